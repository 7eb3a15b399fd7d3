"""A local OpenAI-compatible chat-completions server for the generator tests: answers every request
with a fixed reply (as one JSON message, or streamed word by word as server-sent events), records
the requests, and can be told to fail with an HTTP status."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class ChatCompletions(BaseHTTPRequestHandler):
    requests: list[dict] = []
    status = 200
    reply = ""

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        reply = type(self).reply
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.end_headers()
            self.wfile.write(b'{"error": "model overloaded"}')
            return
        if not body.get("stream"):
            payload = json.dumps(
                {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = reply.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
        self.wfile.write(b": keep-alive\n\n")
        self.wfile.write(b'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}}]}\n\n')
        for piece in pieces:
            event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n')
        self.wfile.write(b"data: [DONE]\n\n")


@contextmanager
def serve_chat_completions(reply: str) -> Iterator[str]:
    """Serve ``reply`` on a free local port; yields the base URL (``http://127.0.0.1:PORT/v1``)."""
    ChatCompletions.requests = []
    ChatCompletions.status = 200
    ChatCompletions.reply = reply
    with serve_handler(ChatCompletions) as url:
        yield url


@contextmanager
def serve_handler(handler: type) -> Iterator[str]:
    """An HTTP server of ``handler`` (a BaseHTTPRequestHandler) on a free local port, in a thread;
    yields its base URL ``http://127.0.0.1:PORT/v1``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
