"""Backends chosen by name: one registry type, one factory convention, for embedders, rerankers,
generators and support judges.

The convention (every registry follows it, so a maintainer learns it once):

* each registry has one **frozen options dataclass** (``GeneratorOptions``, ``RerankerOptions``…):
  everything any of its backends may read; a backend reads the fields it uses;
* a factory takes exactly that options object: ``factory(options) -> backend``;
* ``registry.create(name, options, **fields)`` builds the backend; ``fields`` override the options'
  and an unknown field is a :class:`UnknownOptionError` naming the valid ones (a misspelled option is
  never silently dropped);
* an unknown name is an :class:`UnknownBackendError` naming the valid ones; both are
  :class:`~ipqa.errors.ConfigError`, so the CLI and the API report them as configuration errors
  without converting them by hand;
* a name whose choice depends on the options (``auto``) is a *resolver*: a function of the options
  that returns another registered name, so ``auto`` goes through the registry like any other name.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Generic, TypeVar

from ipqa.errors import ConfigError

T = TypeVar("T")
O = TypeVar("O")


class UnknownBackendError(ConfigError):
    """A backend name that is not registered; the message lists the valid names."""


class UnknownOptionError(ConfigError):
    """An option no backend of the registry reads; the message lists the valid options."""


class Registry(Generic[T, O]):
    """Backends of one kind by name. ``options_type`` is the kind's frozen options dataclass."""

    def __init__(self, kind: str, options_type: type[O]) -> None:
        params = getattr(options_type, "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise TypeError(f"{kind} registry: options type {options_type.__name__} must be a frozen dataclass")
        self.kind = kind
        self.options_type = options_type
        self._factories: dict[str, Callable[[O], T]] = {}
        self._resolvers: dict[str, Callable[[O], str]] = {}

    # --- registering ---------------------------------------------------------------------------
    def register(self, name: str) -> Callable[[Callable[[O], T]], Callable[[O], T]]:
        """Decorator: ``factory(options) -> backend`` under ``name``."""

        def decorator(factory: Callable[[O], T]) -> Callable[[O], T]:
            self._claim(name)
            self._factories[name] = factory
            return factory

        return decorator

    def register_resolver(self, name: str) -> Callable[[Callable[[O], str]], Callable[[O], str]]:
        """Decorator: ``resolve(options) -> another registered name`` under ``name`` (e.g. ``auto``)."""

        def decorator(resolve: Callable[[O], str]) -> Callable[[O], str]:
            self._claim(name)
            self._resolvers[name] = resolve
            return resolve

        return decorator

    def _claim(self, name: str) -> None:
        if name in self._factories or name in self._resolvers:
            raise ValueError(f"{self.kind} backend {name!r} is registered twice")

    # --- looking up ----------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted([*self._factories, *self._resolvers])

    def __contains__(self, name: object) -> bool:
        return name in self._factories or name in self._resolvers

    def options(self, base: O | None = None, /, **fields: Any) -> O:
        """``base`` (default: the options' defaults) with ``fields`` replaced; an unknown field is
        an :class:`UnknownOptionError` naming the valid ones."""
        valid = [field.name for field in dataclasses.fields(self.options_type)]  # type: ignore[arg-type]
        unknown = sorted(set(fields) - set(valid))
        if unknown:
            raise UnknownOptionError(f"unknown {self.kind} option(s) {', '.join(map(repr, unknown))}; "
                                     f"valid options: {', '.join(valid)}")
        if base is None:
            return self.options_type(**fields)
        if not isinstance(base, self.options_type):
            raise TypeError(f"{self.kind} options must be {self.options_type.__name__}, got {type(base).__name__}")
        return dataclasses.replace(base, **fields) if fields else base  # type: ignore[type-var]

    def resolve(self, name: str, options: O | None = None) -> str:
        """The registered backend ``name`` stands for: itself, or what its resolver picks."""
        options = self.options(options)
        seen: list[str] = []
        while name in self._resolvers:
            if name in seen:
                raise ValueError(f"{self.kind} resolvers loop: {' -> '.join([*seen, name])}")
            seen.append(name)
            name = self._resolvers[name](options)
        if name not in self._factories:
            raise UnknownBackendError(f"unknown {self.kind} {name!r}; valid names: "
                                      f"{', '.join(self.names()) or '(none registered)'}")
        return name

    def create(self, name: str, options: O | None = None, /, **fields: Any) -> T:
        """The backend called ``name`` built from ``options`` with ``fields`` replaced."""
        options = self.options(options, **fields)
        return self._factories[self.resolve(name, options)](options)
