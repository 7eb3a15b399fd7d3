"""The directions of the training data, chosen by name: each yields candidates from the index and the
shared training sets (``sft.build`` checks and keeps them)."""

from __future__ import annotations

from typing import Callable, Iterator

from ipqa.errors import InputError
from ipqa.registry import Registry, UnknownBackendError
from sft.candidates import Candidate
from sft.records import DIRECTIONS

Direction = Callable[["BuildContext"], Iterator[Candidate]]  # noqa: F821 (sft.context.BuildContext)


def direction_registry() -> Registry[Direction]:
    registry: Registry[Direction] = Registry("direction")

    @registry.register("doctrine")
    def _doctrine(context) -> Iterator[Candidate]:
        from sft.directions.doctrine import candidates

        return candidates(context)

    @registry.register("conduct")
    def _conduct(context) -> Iterator[Candidate]:
        from sft.directions.conduct import candidates

        return candidates(context)

    @registry.register("case")
    def _case(context) -> Iterator[Candidate]:
        from sft.directions.case import candidates

        return candidates(context)

    @registry.register("drafting")
    def _drafting(context) -> Iterator[Candidate]:
        from sft.directions.drafting import candidates

        return candidates(context)

    @registry.register("exam")
    def _exam(context) -> Iterator[Candidate]:
        from sft.directions.exam import candidates

        return candidates(context)

    return registry


def parse_directions(text: str) -> tuple[str, ...]:
    """``doctrine,conduct`` -> the names, checked; an empty or unknown name is an InputError."""
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise InputError("--directions", f"an empty direction in {text!r}; valid: {', '.join(DIRECTIONS)}")
    registry = direction_registry()
    for name in names:
        try:
            registry.get(name)
        except UnknownBackendError as exc:
            raise InputError("--directions", str(exc)) from None
    return tuple(dict.fromkeys(names))
