"""The law as of a date wherever a question is asked (issue 13): /v1/chat/completions (``as_of`` in
the body, sent by OpenAI clients through ``extra_body``) against a REAL uvicorn server over the
example corpus and two versions of one fictional law. The same date rule as /v1/ask: a bad or
future date is a 422 naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import openai
import pytest
from api_fixtures import READ, READ_KEY, LiveServer, make_settings, serve, services_factory
from versioned_corpus import NEW_BODY, OLD_BODY, QUESTION, write_versioned_law


def build_versioned_index(settings: Any, *sources: Path) -> str:
    from indexes.build import build_version
    from indexes.embedder import create_embedder
    from rag.compose import build_options

    embedder = create_embedder(settings.embedder, device="cpu")
    return build_version(settings.index_root, list(sources), embedder=embedder,
                         options=build_options(settings)).version


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path
           ) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("as-of-serving")
    law = write_versioned_law(root / "law")
    settings = make_settings(root / "var", tiny_embedder_dir, examples_dir)
    build_versioned_index(settings, examples_dir, law)
    yield from serve(settings, services_factory=services_factory(settings))


@pytest.fixture()
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=READ_KEY, max_retries=0, timeout=60)


@pytest.fixture()
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers=READ) as c:
        yield c


def _cited_texts(completion: Any, http: httpx.Client) -> str:
    ids = [c["chunk_id"] for c in completion.to_dict()["citations"] if c["chunk_id"]]
    assert ids, completion.to_dict()
    return " ".join(http.get(f"/v1/chunks/{chunk_id}").json()["chunk"]["text"] for chunk_id in ids)


def test_a_chat_completion_answers_from_the_version_in_force_on_the_date(client: openai.OpenAI,
                                                                        http: httpx.Client) -> None:
    messages = [{"role": "user", "content": QUESTION}]
    then = client.chat.completions.create(model="ipqa", messages=messages, extra_body={"as_of": "2015-06-01"})
    now = client.chat.completions.create(model="ipqa", messages=messages)
    assert OLD_BODY in _cited_texts(then, http) and NEW_BODY not in _cited_texts(then, http)
    assert NEW_BODY in _cited_texts(now, http) and OLD_BODY not in _cited_texts(now, http)
    # the same as /v1/ask with the same date
    asked = http.post("/v1/ask", json={"question": QUESTION, "as_of": "2015-06-01"}).json()
    assert [c["chunk_id"] for c in asked["citations"]] == [c["chunk_id"] for c in then.to_dict()["citations"]]


def test_a_streamed_chat_completion_keeps_the_date(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="ipqa", stream=True, extra_body={"as_of": "2015-06-01"},
                                                 messages=[{"role": "user", "content": QUESTION}]))
    assert OLD_BODY in "".join(c.choices[0].delta.content or "" for c in chunks)


@pytest.mark.parametrize("as_of, problem", [("2015-02-30", "not a date"), ("June 2015", "pattern"),
                                            ("2999-01-01", "in the future")])
@pytest.mark.parametrize("stream", [False, True])
def test_a_bad_or_future_date_is_a_422_naming_as_of(client: openai.OpenAI, as_of: str, problem: str,
                                                    stream: bool) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        client.chat.completions.create(model="ipqa", stream=stream, extra_body={"as_of": as_of},
                                       messages=[{"role": "user", "content": QUESTION}])
    error = raised.value.body
    assert error["param"] == "as_of" and error["code"] == "invalid_as_of"
    assert error["message"].startswith("as_of: ") and problem in error["message"]
