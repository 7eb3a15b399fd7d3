"""Any OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp server, TGI, a hosted API).

Streaming uses server-sent events: ``data: {json}`` lines, each with ``choices[0].delta.content``,
ending with ``data: [DONE]``. Errors name the URL, because "connection refused" alone does not
tell an operator which of their settings is wrong.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from rag.generators.errors import GeneratorError
from rag.protocols import Prompt


class OpenAICompatGenerator:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model or "default"
        self.api_key = api_key
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s

    def _payload(self, prompt: Prompt, *, stream: bool) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": prompt.system},
                {"role": "user", "content": prompt.user},
            ],
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _timeout(self) -> Any:
        import httpx

        return httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)

    def generate(self, prompt: Prompt) -> str:
        import httpx

        try:
            with httpx.Client(timeout=self._timeout()) as client:
                response = client.post(
                    self.url, json=self._payload(prompt, stream=False), headers=self._headers()
                )
                self._raise_for_status(response, response.text)
                body = response.json()
        except httpx.TimeoutException as exc:
            raise GeneratorError(
                f"{self.url}: no answer within {self.timeout_s:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise GeneratorError(f"{self.url}: cannot reach the generation endpoint ({exc})") from exc
        except ValueError as exc:
            raise GeneratorError(f"{self.url}: the response is not JSON ({exc})") from exc
        try:
            return body["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(
                f"{self.url}: unexpected response shape (no choices[0].message.content)"
            ) from exc

    def stream(self, prompt: Prompt) -> Iterator[str]:
        import httpx

        try:
            with httpx.Client(timeout=self._timeout()) as client:
                with client.stream(
                    "POST", self.url, json=self._payload(prompt, stream=True), headers=self._headers()
                ) as response:
                    if response.status_code >= 400:
                        self._raise_for_status(response, response.read().decode("utf-8", "replace"))
                    for line in response.iter_lines():
                        piece = self._parse_sse_line(line)
                        if piece is None:
                            return
                        if piece:
                            yield piece
        except httpx.TimeoutException as exc:
            raise GeneratorError(
                f"{self.url}: no answer within {self.timeout_s:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise GeneratorError(f"{self.url}: cannot reach the generation endpoint ({exc})") from exc

    def _parse_sse_line(self, line: str) -> str | None:
        """The text carried by one SSE line; ``None`` at ``[DONE]``; ``""`` for anything else."""
        line = line.strip()
        if not line.startswith("data:"):
            return ""  # blank separators, comments (": keep-alive"), event:/id: fields
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return None
        try:
            event = json.loads(data)
        except json.JSONDecodeError as exc:
            raise GeneratorError(f"{self.url}: malformed stream event {data[:200]!r}") from exc
        if isinstance(event, dict) and "error" in event:
            raise GeneratorError(f"{self.url}: the server reported an error: {event['error']}")
        try:
            choice = event["choices"][0]
        except (KeyError, IndexError, TypeError):
            return ""  # e.g. a final usage-only event
        delta = choice.get("delta") or {}
        return delta.get("content") or ""

    def _raise_for_status(self, response: Any, body: str) -> None:
        if response.status_code >= 400:
            raise GeneratorError(f"{self.url}: HTTP {response.status_code}: {body[:300]}")
