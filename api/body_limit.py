"""Refuse request bodies over a size limit while they arrive, before anything parses them.

FastAPI parses (and spools to disk) a whole multipart body before an endpoint can look at it, so
the upload limits are enforced here first: by ``Content-Length`` when given, and by counting bytes
for chunked bodies. A multipart body is also cut into its parts as it streams past, so one file over
the per-file limit is refused as soon as it crosses it (the request limit allows many files: a
single 200 MB file was otherwise spooled whole before its 413). Over a limit is a 413 problem;
nothing of the body is stored.
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(BaseException):
    """BaseException: body parsers turn any Exception into their own 400, this must reach us."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail


# headers of one part (Content-Disposition with a file name, Content-Type) on top of its content
PART_HEADER_ALLOWANCE = 16 * 1024
_BOUNDARY = re.compile(rb"boundary=(?:\"([^\"]{1,200})\"|([^\s;,]{1,200}))", re.IGNORECASE)


class _PartMeter:
    """Bytes of the multipart part being received, from the last delimiter seen in the stream."""

    def __init__(self, boundary: bytes, limit: int) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.limit = limit
        self.current = 0
        self._tail = b""  # a delimiter may be split across two messages

    def feed(self, chunk: bytes) -> bool:
        """Count ``chunk``; True when the current part is over the limit."""
        data = self._tail + chunk
        last = data.rfind(self.delimiter)
        if last >= 0:
            self.current = len(data) - (last + len(self.delimiter))
        else:
            self.current += len(chunk)
        self._tail = data[-(len(self.delimiter) - 1):]
        return self.current > self.limit


def _part_meter(scope: Scope, part_limit: int | None) -> _PartMeter | None:
    if part_limit is None:
        return None
    for name, value in scope.get("headers", ()):
        if name == b"content-type" and value.lower().startswith(b"multipart/"):
            found = _BOUNDARY.search(value)
            if found:
                return _PartMeter(found.group(1) or found.group(2), part_limit + PART_HEADER_ALLOWANCE)
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, default_limit: int, limits: dict[tuple[str, str], int],
                 part_limits: dict[tuple[str, str], int] | None = None) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = limits  # (method, path) -> bytes
        self.part_limits = part_limits or {}  # (method, path) -> bytes of one multipart part (one file)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = (scope["method"], scope["path"])
        limit = self.limits.get(key, self.default_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _drain(receive, limit)
            await _refuse(scope, send, limit)
            return
        meter = _part_meter(scope, self.part_limits.get(key))
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                received += len(body)
                if received > limit:
                    raise _TooLarge()
                if meter is not None and meter.feed(body):
                    raise _TooLarge(f"a file of the request is larger than the limit of "
                                    f"{self.part_limits[key]} bytes per file")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge as exc:
            if not response_started:
                # a file over its limit: read at most the drain's floor more, not a multiple of the
                # whole request's limit
                await _drain(receive, 0 if exc.detail else limit)
                await _refuse(scope, send, limit, exc.detail)


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


async def _refuse(scope: Scope, send: Send, limit: int, detail: str | None = None) -> None:
    detail = detail or f"the request body is larger than the limit of {limit} bytes"
    body = json.dumps({"type": "urn:ipqa:problem:request-too-large", "title": "Request too large",
                       "status": 413, "detail": detail,
                       "instance": scope.get("path", "")}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
