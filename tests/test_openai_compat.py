"""The OpenAI-compatible endpoint driven by the official ``openai`` package against a REAL uvicorn
server over examples/corpus (keys required for reads), and conversations through /v1/ask."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import httpx
import openai
import pytest
from api_fixtures import READ, READ_KEY, LiveServer, assert_problem, build_example_index, make_settings, serve, \
    services_factory

QUESTION = "知识产权保护部门处理专利侵权纠纷，认定侵权行为成立的，可以怎么做？"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path
           ) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("openai"), tiny_embedder_dir, examples_dir,
                             read_requires_key=True)
    build_example_index(settings, examples_dir)
    yield from serve(settings, services_factory=services_factory(settings))


@pytest.fixture()
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=READ_KEY, max_retries=0, timeout=60)


@pytest.fixture()
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client(headers=READ) as c:
        yield c


def test_models_lists_the_served_model(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["ipqa"] and models.data[0].owned_by == "ipqa"
    assert client.models.retrieve("ipqa").id == "ipqa"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_a_completion_carries_markers_citations_and_a_sources_footer(client: openai.OpenAI, server: LiveServer) -> None:
    completion = client.chat.completions.create(model="ipqa", messages=[
        {"role": "system", "content": "You are a helpful assistant."},  # ignored: the answer is ipqa's
        {"role": "user", "content": QUESTION}])
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop" and completion.model == "ipqa"
    assert "[1]" in content and "\n\n来源:\n[1] 示例知识产权保护条例 第八条 — 已核实" in content
    body = completion.to_dict()
    citation = body["citations"][0]
    assert citation["n"] == 1 and citation["citation"] == "示例知识产权保护条例 第八条" and citation["verified"]
    assert citation["quote"] and citation["chunk_id"] and 0 < citation["support"] <= 1
    assert citation["url"].startswith(f"{server.url}/?unit={citation['chunk_id']}&quote=")
    assert body["ipqa"]["abstained"] is False and body["ipqa"]["index_version"]


def test_a_streamed_completion_arrives_in_pieces_and_ends_with_the_citations(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="ipqa", stream=True,
                                                 messages=[{"role": "user", "content": QUESTION}]))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) > 3  # streamed as generated, not one block
    assert chunks[0].choices[0].delta.role == "assistant"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    citations = last.to_dict()["citations"]
    assert citations and citations[0]["verified"] and "[1]" in "".join(pieces)
    streamed = "".join(pieces)
    plain = client.chat.completions.create(model="ipqa", messages=[{"role": "user", "content": QUESTION}])
    assert streamed == plain.choices[0].message.content


def test_earlier_messages_are_the_conversation(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="ipqa", messages=[
        {"role": "user", "content": "专利法第十一条规定了什么？"}])
    follow = client.chat.completions.create(model="ipqa", messages=[
        {"role": "user", "content": "专利法第十一条规定了什么？"},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "第二款呢？"}])
    extras = follow.to_dict()["ipqa"]
    assert extras["question"] == "第二款呢？"
    assert extras["standalone_question"].startswith("专利法 第十一条 第二款")


def test_a_server_side_conversation_through_extra_body(client: openai.OpenAI, http: httpx.Client) -> None:
    conversation = http.post("/v1/conversations").json()["id"]
    client.chat.completions.create(model="ipqa", messages=[{"role": "user", "content": "专利法第十一条规定了什么？"}],
                                   extra_body={"conversation_id": conversation})
    follow = client.chat.completions.create(model="ipqa", messages=[{"role": "user", "content": "第二款呢？"}],
                                            extra_body={"conversation_id": conversation})
    assert follow.to_dict()["ipqa"]["standalone_question"].startswith("专利法 第十一条 第二款")
    turns = http.get(f"/v1/conversations/{conversation}").json()["turns"]
    assert [t["question"] for t in turns] == ["专利法第十一条规定了什么？", "第二款呢？"]


def test_a_wrong_or_missing_key_is_401_in_openai_shape(server: LiveServer) -> None:
    wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.chat.completions.create(model="ipqa", messages=[{"role": "user", "content": QUESTION}])
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key" and caught.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with server.client() as anonymous:
        for response in (anonymous.get("/v1/models"),
                         anonymous.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})):
            assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
            error = response.json()["error"]
            assert error["code"] == "invalid_api_key" and "API key" in error["message"]


@pytest.mark.parametrize("payload, status, code", [
    ({"messages": []}, 400, "invalid_request"),
    ({"model": "ipqa"}, 400, "invalid_request"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}, 400,
     "last_message_not_user"),
    ({"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "x"}]}, 400, "invalid_request"),
    ({"messages": [{"role": "wizard", "content": "x"}]}, 400, "invalid_request"),
    ({"messages": [{"role": "user", "content": "   "}]}, 400, "empty_question"),
    ({"messages": [{"role": "user", "content": "专" * 2001}]}, 400, "invalid_question"),
    ({"messages": [{"role": "user", "content": "x" * 1_000_000}]}, 400, "invalid_request"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, 400,
     "invalid_request"),
    ({"messages": [{"role": "user", "content": "x"}], "n": 2}, 400, "invalid_request"),
    ({"messages": [{"role": "user", "content": "x"}], "conversation_id": "conv_unknown"}, 404,
     "conversation_not_found"),
])
def test_bad_input_is_a_clear_4xx_and_the_service_stays_up(http: httpx.Client, payload: dict, status: int,
                                                           code: str) -> None:
    response = http.post("/v1/chat/completions", json=payload)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "Traceback" not in response.text
    assert http.get("/healthz").json() == {"status": "ok"}


def test_a_megabyte_message_and_broken_json_are_refused(http: httpx.Client) -> None:
    huge = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * (1024 * 1024)}]})
    assert huge.status_code == 413  # refused while it arrives, before anything parses it
    broken = http.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    assert http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}
                     ).status_code == 200


# --- conversations through /v1/ask ---------------------------------------------------------------------

def test_ask_with_history_resolves_the_follow_up(http: httpx.Client) -> None:
    body = http.post("/v1/ask", json={"question": "第二款呢？", "history": [
        {"question": "专利法第十一条规定了什么？", "answer": "……", "citations": ["专利法 第十一条"]}]}).json()
    assert body["standalone_question"].startswith("专利法 第十一条 第二款")
    assert "专利法 第十一条 第二款" in body["carried"]


def test_ask_in_a_server_side_conversation_streams_and_records_turns(http: httpx.Client) -> None:
    from api_fixtures import sse_events

    conversation = http.post("/v1/conversations")
    assert conversation.status_code == 201
    conversation_id = conversation.json()["id"]
    first = http.post("/v1/ask", json={"question": QUESTION, "conversation_id": conversation_id})
    assert first.json()["conversation_id"] == conversation_id
    with http.stream("POST", "/v1/ask", json={"question": "第二款呢？", "conversation_id": conversation_id,
                                              "stream": True}) as response:
        events = sse_events(response.iter_lines())
    answer = [data for name, data in events if name == "answer"][0]
    # the unit comes from the first answer's citation: the question named none
    assert answer["standalone_question"].startswith("示例知识产权保护条例 第八条 第二款")
    turns = http.get(f"/v1/conversations/{conversation_id}").json()["turns"]
    assert len(turns) == 2 and "示例知识产权保护条例 第八条" in turns[0]["citations"]
    assert http.delete(f"/v1/conversations/{conversation_id}").status_code == 204
    assert_problem(http.get(f"/v1/conversations/{conversation_id}"), 404)


@pytest.mark.parametrize("payload, status", [
    ({"question": "x", "conversation_id": "conv_unknown"}, 404),
    ({"question": "x", "conversation_id": "../etc"}, 422),
    ({"question": "x", "history": [], "conversation_id": "conv_x"}, 422),
    ({"question": "x", "history": [{"answer": "no question"}]}, 422),
    ({"question": "x", "history": [{"question": "q"}] * 51}, 422),
])
def test_ask_refuses_bad_conversations(http: httpx.Client, payload: dict[str, Any], status: int) -> None:
    assert_problem(http.post("/v1/ask", json=payload), status)


# --- the page's own routes under keys --------------------------------------------------------------------

def test_the_page_is_public_but_its_unit_view_needs_the_key(server: LiveServer, http: httpx.Client) -> None:
    with server.client() as anonymous:
        page = anonymous.get("/", headers={"accept-language": "en-US,en;q=0.9"})
        assert page.status_code == 200 and '<html lang="en">' in page.text and "/web/static/app.js" in page.text
        assert anonymous.get("/?lang=zh").text.count("知识产权法律问答") >= 1
        assert anonymous.get("/web/static/app.js").headers["content-type"].startswith("text/javascript")
        assert_problem(anonymous.get("/web/units/c123"), 401)
    assert_problem(http.get("/web/units/c-no-such-chunk"), 404)
    hit = http.post("/v1/search", json={"query": "知识产权保护部门 处理 专利侵权纠纷", "k": 1}).json()["hits"][0]
    view = http.get(f"/web/units/{hit['chunk_id']}", params={"quote": "<script>alert(1)</script>", "lang": "en"})
    assert view.status_code == 200 and "<script>alert(1)" not in view.text  # escaped, never markup

