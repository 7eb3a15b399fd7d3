"""Serving a blocking generator of server-sent-event frames from an async route."""

from __future__ import annotations

from typing import AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool


async def closing_stream(events: Iterator[str]) -> AsyncIterator[str]:
    """Run the blocking generator in the threadpool, and close it (releasing the pinned index
    version) even when the client goes away mid-stream."""
    done = object()
    try:
        while True:
            frame = await run_in_threadpool(next, events, done)
            if frame is done:
                return
            yield frame  # type: ignore[misc]
    finally:
        await run_in_threadpool(events.close)
