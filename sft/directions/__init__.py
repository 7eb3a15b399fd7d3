"""The directions of the training data, chosen by name: each yields candidates from the index and the
shared training sets (``sft.build`` checks and keeps them)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Iterator

from ipqa.errors import InputError
from ipqa.registry import Registry, UnknownBackendError
from sft.candidates import Candidate
from sft.records import DIRECTIONS

Direction = Callable[["BuildContext"], Iterator[Candidate]]  # noqa: F821 (sft.context.BuildContext)


@dataclass(frozen=True)
class DirectionOptions:
    """Directions have no options (the registries' one convention: a frozen options dataclass); what a
    direction reads comes from the build context it is run with."""


def direction_registry() -> Registry[Direction, DirectionOptions]:
    """Direction name -> the function that yields its candidates from a build context."""
    registry: Registry[Direction, DirectionOptions] = Registry("direction", DirectionOptions)

    for name in DIRECTIONS:  # one module per direction, sft/directions/<name>.py, imported when chosen
        registry.register(name)(_loader(name))
    return registry


def _loader(name: str) -> Callable[[DirectionOptions], Direction]:
    def load(_: DirectionOptions) -> Direction:
        return importlib.import_module(f"sft.directions.{name}").candidates

    return load


def parse_directions(text: str) -> tuple[str, ...]:
    """``doctrine,conduct`` -> the names, checked; an empty or unknown name is an InputError."""
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise InputError("--directions", f"an empty direction in {text!r}; valid: {', '.join(DIRECTIONS)}")
    registry = direction_registry()
    for name in names:
        try:
            registry.resolve(name)
        except UnknownBackendError as exc:
            raise InputError("--directions", str(exc)) from None
    return tuple(dict.fromkeys(names))
