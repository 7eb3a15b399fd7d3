"""Errors that carry the input they are about, so a user can see which file or value is wrong."""

from __future__ import annotations


class IpqaError(Exception):
    """Base class of the errors ipqa reports to users (CLI message, API problem detail)."""


class InputError(IpqaError):
    """Bad input: names the input (a path, a field) and the problem."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class IndexUnavailableError(IpqaError):
    """An index that cannot be opened or used (missing, corrupt, built by another embedder…)."""


class ConfigError(IpqaError):
    """A setting whose value cannot work (unknown backend, missing model path…)."""
