"""The directions of the training data, chosen by name: each yields candidates from the index and the
shared training sets (``sft.build`` checks and keeps them)."""

from __future__ import annotations

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

    @registry.register("doctrine")
    def _doctrine(_: DirectionOptions) -> Direction:
        from sft.directions.doctrine import candidates

        return candidates

    @registry.register("conduct")
    def _conduct(_: DirectionOptions) -> Direction:
        from sft.directions.conduct import candidates

        return candidates

    @registry.register("case")
    def _case(_: DirectionOptions) -> Direction:
        from sft.directions.case import candidates

        return candidates

    @registry.register("drafting")
    def _drafting(_: DirectionOptions) -> Direction:
        from sft.directions.drafting import candidates

        return candidates

    @registry.register("exam")
    def _exam(_: DirectionOptions) -> Direction:
        from sft.directions.exam import candidates

        return candidates

    return registry


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
