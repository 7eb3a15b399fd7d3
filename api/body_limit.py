"""Refuse request bodies over a size limit while they arrive, before anything parses them.

FastAPI parses (and spools to disk) a whole multipart body before an endpoint can look at it, so
the upload limits are enforced here first: by ``Content-Length`` when given, and by counting bytes
for chunked bodies. Over the limit is a 413 problem; nothing of the body is stored.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(BaseException):
    """BaseException: body parsers turn any Exception into their own 400, this must reach us."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, default_limit: int, limits: dict[tuple[str, str], int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits  # (method, path) -> bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get((scope["method"], scope["path"]), self.default_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _drain(receive, limit)
            await _refuse(scope, send, limit)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await _drain(receive, limit)
                await _refuse(scope, send, limit)


async def _drain(receive: Receive, limit: int) -> None:
    """Read (and discard) what the client is still sending, up to a bound, before answering:
    closing a connection with unread data makes the kernel reset it, and the client would see a
    connection error instead of the 413. A client sending far more is cut off."""
    budget = max(4 * limit, 16 * 1024 * 1024)
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    body = json.dumps({"type": "urn:ipqa:problem:request-too-large", "title": "Request too large",
                       "status": 413, "detail": f"the request body is larger than the limit of {limit} bytes",
                       "instance": scope.get("path", "")}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
