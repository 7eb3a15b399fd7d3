"""API keys: ``Authorization: Bearer <key>``.

Write endpoints (uploads, deletions, rebuilds) need a key from ``write_api_keys``. Read endpoints
need a key from ``api_keys`` or ``write_api_keys`` as soon as read keys are configured (configuring
them is how reads are closed), or when ``read_requires_key`` is set (to close reads with write keys
only); with neither they are open. A missing or unknown key is 401 (with ``WWW-Authenticate: Bearer``); a valid read key on
a write endpoint is 403. Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable

from api.errors import ProblemError


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class ApiKeys:
    read_keys: tuple[str, ...]
    write_keys: tuple[str, ...]
    read_requires_key: bool

    @classmethod
    def from_lists(cls, read_keys: Iterable[str], write_keys: Iterable[str], *,
                   read_requires_key: bool) -> "ApiKeys":
        # an empty string is never a key: it would let an empty "Bearer " header in
        read = tuple(k for k in read_keys if k)
        return cls(read, tuple(k for k in write_keys if k), read_requires_key or bool(read))

    def grants(self, scope: Scope, token: str | None) -> bool:
        """Whether ``token`` grants ``scope`` (without raising: for endpoints that answer everyone,
        but say more to callers with access)."""
        try:
            self.check(scope, token)
        except ProblemError:
            return False
        return True

    def check(self, scope: Scope, token: str | None) -> None:
        """Return when ``token`` grants ``scope``; raise a 401/403 problem otherwise."""
        if scope is Scope.READ and not self.read_requires_key:
            return
        if not token:
            raise ProblemError(401, f"this endpoint needs an API key with {scope} access: send "
                                    "'Authorization: Bearer <key>'", slug="unauthenticated",
                               title="Missing API key", headers={"WWW-Authenticate": "Bearer"})
        is_write = _member(token, self.write_keys)
        if is_write:
            return
        if _member(token, self.read_keys):
            if scope is Scope.READ:
                return
            raise ProblemError(403, "this API key has read access only; this endpoint needs a write-scoped key",
                               slug="forbidden", title="Insufficient scope")
        raise ProblemError(401, "the API key is not valid", slug="unauthenticated", title="Invalid API key",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def _member(token: str, keys: tuple[str, ...]) -> bool:
    # compare against every key (no early exit) so timing reveals nothing about which one matched
    encoded = token.encode("utf-8", "surrogatepass")
    found = False
    for key in keys:
        found |= hmac.compare_digest(encoded, key.encode("utf-8", "surrogatepass"))
    return found
