"""End to end: the service configured from the environment with ``IPQA_GENERATOR=openai`` against a
local OpenAI-compatible endpoint (127.0.0.1, in this test) that answers with a source's own sentence
and contradictions of it (a modal flipped, a time limit changed, a negation dropped, the whole
statement denied), in Chinese and in English. The answer must flag each contradiction as
unsupported and keep the faithful copy supported."""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from api_fixtures import LiveServer, build_example_index, make_settings
from chat_server import serve_handler

def _zh(sentence: str) -> list[str]:
    body = sentence.rstrip("。")
    return [body.replace("可以", "不得") + "。",  # modal flip
            body.replace("十五日", "三十日") + "。",  # time limit changed
            "并非" + body + "。"]  # the whole statement denied


def _en(sentence: str) -> list[str]:
    body = sentence.rstrip(".")
    return [body.replace("may not recapture", "may recapture") + ".",  # negation dropped
            "It is not the case that " + body[0].lower() + body[1:] + "."]


# (question, the source sentence the model copies, the contradictions it makes of it)
CASES = [
    ("当事人对处理决定不服的，可以在多少日内向人民法院起诉？", re.compile(r"[^。\n]*十五日内[^。\n]*。"), _zh),
    ("May a patentee recapture disclosed but unclaimed subject matter through the doctrine of equivalents?",
     re.compile(r"[^.\n]*may not recapture[^.\n]*\."), _en),
]


class _Model(BaseHTTPRequestHandler):
    answers: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = "\n".join(m["content"] for m in body["messages"])
        # the numbered source that holds the sentence: "[n] citation\ntext"
        blocks = re.split(r"\n(?=\[\d+\] )", prompt)
        lines: list[str] = []
        for _, pattern, contradict in CASES:
            for block in blocks:
                number, sentence = re.match(r"\[(\d+)\] ", block), pattern.search(block)
                if number and sentence and not lines:
                    s = sentence.group().strip()
                    lines = [f"{line} [{number.group(1)}]" for line in [s, *contradict(s)]]
        text = "\n".join(lines) or "（来源中没有这句话）"
        type(self).answers.append(text)
        self.send_response(200)
        if not body.get("stream"):
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            message = {"role": "assistant", "content": text}
            self.wfile.write(json.dumps({"choices": [{"index": 0, "message": message}]}).encode())
            return
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for line in text.splitlines(keepends=True):  # one line per event, as a model streams
            event = {"choices": [{"index": 0, "delta": {"content": line}}]}
            self.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def model_url() -> Iterator[str]:
    _Model.answers = []
    with serve_handler(_Model) as url:
        yield url


@pytest.mark.slow
def test_openai_answer_with_contradicted_sources_is_flagged(tmp_path: Path, tiny_embedder_dir: Path,
                                                           examples_dir: Path, model_url: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from api.app import create_app
    from ipqa.settings import Settings

    build_example_index(make_settings(tmp_path, tiny_embedder_dir, examples_dir), examples_dir)
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in {"DATA_DIR": str(tmp_path), "EMBEDDER": str(tiny_embedder_dir), "EMBED_DEVICE": "cpu",
                        "GENERATOR": "openai", "OPENAI_BASE_URL": model_url, "OPENAI_MODEL": "tiny",
                        "SUPPORT_JUDGE": "lexical", "RERANKER": "none", "TORCH_THREADS": "default",
                        "API_KEYS": "[]", "WRITE_API_KEYS": "[]"}.items():
        monkeypatch.setenv(f"IPQA_{name}", value)
    settings = Settings()
    assert settings.generator == "openai"
    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        for question, pattern, contradict in CASES:
            response = client.post("/v1/ask", json={"question": question, "k": 5})
            assert response.status_code == 200, response.text
            _check_flagged(response.json(), pattern, len(contradict("x")))


def _check_flagged(answer: dict, pattern: re.Pattern, contradictions: int) -> None:
    assert _Model.answers and pattern.search(_Model.answers[-1]), "the model was not given the provision"
    statements = answer["statements"]
    assert len(statements) == 1 + contradictions, statements
    verbatim, *contradicting = statements
    assert verbatim["supported"] is True and verbatim["support"] >= 0.9, verbatim
    for statement in contradicting:
        assert statement["supported"] is False and statement["support"] == 0.0, statement
    # the source itself is verified by the statement that copies it
    assert any(c["verified"] for c in answer["citations"])
