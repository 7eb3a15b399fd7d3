"""Dependencies as ``Annotated`` aliases: routers declare ``state: State``, ``_: ReadAccess``.

They are ``async`` and do no I/O, so they run on the event loop without a threadpool hop; tests can
replace any of them with ``app.dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import ApiKeys, Scope
from api.conversations import ConversationStore
from api.state import AppState

# auto_error=False: a missing key is our 401 problem (or no problem at all for open reads)
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


async def get_state(request: Request) -> AppState:
    return request.app.state.ipqa


async def get_keys(request: Request) -> ApiKeys:
    return request.app.state.api_keys


async def get_conversations(request: Request) -> ConversationStore:
    return request.app.state.conversations


State = Annotated[AppState, Depends(get_state)]
Conversations = Annotated[ConversationStore, Depends(get_conversations)]
Keys = Annotated[ApiKeys, Depends(get_keys)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def require_read(keys: Keys, credentials: Credentials) -> None:
    keys.check(Scope.READ, credentials.credentials if credentials else None)


async def require_write(keys: Keys, credentials: Credentials) -> None:
    keys.check(Scope.WRITE, credentials.credentials if credentials else None)


ReadAccess = Annotated[None, Depends(require_read)]
WriteAccess = Annotated[None, Depends(require_write)]
