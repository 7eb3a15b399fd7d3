"""The law as of a date wherever a question is asked, and versioned citations wherever a unit is
shown (issue 13), against a REAL uvicorn server over the example corpus and two versions of one
fictional law: /v1/chat/completions takes ``as_of`` (OpenAI clients send it through ``extra_body``)
with /v1/ask's date rule (a bad or future date is a 422 naming the field); a unit of the version
not in force today is cited 示例专利实施细则（2010）第二条 by search, ask, chat, the resolver, the
chunk view, the unit view and ``ipqa search``, and the version in force stays unqualified."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import openai
import pytest
from api_fixtures import READ, READ_KEY, LiveServer, make_settings, serve, services_factory
from versioned_corpus import NEW_BODY, OLD_BODY, QUESTION, TITLE, write_versioned_law

OLD = f"{TITLE}（2010）第二条"
NEW = f"{TITLE} 第二条"


def build_versioned_index(settings: Any, *sources: Path) -> str:
    from indexes.build import build_version
    from indexes.embedder import create_embedder
    from rag.compose import build_options

    embedder = create_embedder(settings.embedder, device="cpu")
    return build_version(settings.index_root, list(sources), embedder=embedder,
                         options=build_options(settings)).version


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path) -> Any:
    root = tmp_path_factory.mktemp("as-of-serving")
    law = write_versioned_law(root / "law")
    settings = make_settings(root / "var", tiny_embedder_dir, examples_dir)
    build_versioned_index(settings, examples_dir, law)
    return settings


@pytest.fixture(scope="module")
def server(settings: Any) -> Iterator[LiveServer]:
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


# --- versioned citations -------------------------------------------------------------------------------

def test_search_cites_the_superseded_version_with_its_version(http: httpx.Client) -> None:
    then = http.post("/v1/search", json={"query": QUESTION, "as_of": "2015-06-01"}).json()["hits"]
    now = http.post("/v1/search", json={"query": QUESTION}).json()["hits"]
    assert then[0]["citation"] == OLD and OLD_BODY in then[0]["text"]
    assert now[0]["citation"] == NEW and NEW_BODY in now[0]["text"]
    # the same unit: the chunk ids and everything indexed stay as they were
    chunk = http.get(f"/v1/chunks/{then[0]['chunk_id']}").json()
    assert chunk["chunk"]["citation"] == OLD
    assert chunk["previous"]["citation"] == f"{TITLE}（2010）第一条"


def test_an_answer_cites_and_verifies_the_versioned_citation(http: httpx.Client, client: openai.OpenAI) -> None:
    answer = http.post("/v1/ask", json={"question": QUESTION, "as_of": "2015-06-01"}).json()
    cited = [c for c in answer["citations"] if c["citation"] == OLD]
    assert cited and cited[0]["verified"], answer["citations"]
    assert OLD in answer["answer"] and NEW not in answer["answer"]
    assert answer["evidence"][0]["citation"] == OLD
    completion = client.chat.completions.create(model="ipqa", messages=[{"role": "user", "content": QUESTION}],
                                                extra_body={"as_of": "2015-06-01"})
    assert f"[1] {OLD} — 已核实" in completion.choices[0].message.content
    today = http.post("/v1/ask", json={"question": QUESTION}).json()
    assert NEW in [c["citation"] for c in today["citations"]] and "（2010）" not in today["answer"]


def test_an_answer_that_writes_the_versioned_citation_is_verified_against_that_version(http: httpx.Client) -> None:
    """What the generator writes is resolved: the versioned form names the 2010 text, whatever the date."""
    answer = http.post("/v1/ask", json={"question": f"{OLD}规定了什么？"}).json()
    assert [c["citation"] for c in answer["citations"]][:1] == [OLD] and answer["citations"][0]["verified"]
    assert OLD_BODY in answer["answer"]


def test_the_resolver_gives_each_version_its_canonical_citation(http: httpx.Client) -> None:
    both = http.get("/v1/citations/resolve", params={"q": f"{TITLE}第二条"}).json()["resolutions"]
    assert [(r["citation"], r["version"]) for r in both] == [(NEW, "2023-12-11"), (OLD, "2010-01-09")]
    named = http.get("/v1/citations/resolve", params={"q": OLD}).json()["resolutions"]
    assert [r["citation"] for r in named] == [OLD] and named[0]["context"]["chunk"]["citation"] == OLD
    assert named[0]["context"]["chunk"]["id"] == both[1]["context"]["chunk"]["id"]


def test_the_unit_view_names_the_version(http: httpx.Client) -> None:
    old_id = http.post("/v1/search", json={"query": QUESTION, "as_of": "2015-06-01"}
                       ).json()["hits"][0]["chunk_id"]
    view = http.get(f"/web/units/{old_id}").text
    assert f'<p class="unit-citation"><strong>{OLD}</strong></p>' in view
    assert f">{NEW}</button>" in view and f">{OLD}</" in view  # its history: the version in force is plain


def test_ipqa_search_json_names_the_version(settings: Any, tiny_embedder_dir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from ipqa.cli import build_app

    monkeypatch.setenv("IPQA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("IPQA_EMBEDDER", str(tiny_embedder_dir))

    def search(*options: str) -> list[dict[str, Any]]:
        result = CliRunner().invoke(build_app(), ["search", f"{TITLE} 第二条", "--json", *options])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    assert search("--as-of", "2015-06-01")[0]["citation"] == OLD
    assert search("--as-of", "2024-06-01")[0]["citation"] == NEW
    assert search()[0]["citation"] == NEW


def test_a_follow_up_on_a_superseded_citation_stays_in_that_version(http: httpx.Client) -> None:
    first = http.post("/v1/ask", json={"question": QUESTION, "as_of": "2015-06-01"}).json()
    history = [{"question": QUESTION, "answer": first["answer"], "citations": [c["citation"] for c in first["citations"]]}]
    follow = http.post("/v1/ask", json={"question": "第一条呢？", "history": history}).json()  # no date
    assert follow["standalone_question"].startswith(f"{TITLE}（2010）第一条 ")
    assert follow["evidence"][0]["citation"] == f"{TITLE}（2010）第一条"


def test_a_chat_answer_citing_a_superseded_version_says_so_and_names_the_current_article(
        client: openai.OpenAI) -> None:
    then = client.chat.completions.create(model="ipqa", messages=[{"role": "user", "content": QUESTION}],
                                          extra_body={"as_of": "2015-06-01"})
    old = [c for c in then.to_dict()["citations"] if c["citation"] == OLD]
    assert old and old[0]["current"] == [NEW] and NEW in old[0]["note"]
    content = then.choices[0].message.content
    assert old[0]["note"] in content and content.index(old[0]["note"]) < content.index("来源")
    now = client.chat.completions.create(model="ipqa", messages=[{"role": "user", "content": QUESTION}])
    assert all(c["note"] is None for c in now.to_dict()["citations"])
