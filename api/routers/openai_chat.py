"""OpenAI-compatible chat: ``POST /v1/chat/completions`` (plain and ``stream: true``), ``GET /v1/models``.

Chat front-ends and SDKs that speak the OpenAI API get ipqa's answers unchanged: the last user
message is the question, the earlier user/assistant messages are the conversation (a follow-up is
read against them, see ``rag.conversation``), system messages are ignored (the answer is ipqa's
verified answer, not a model following instructions). The content carries the ``[n]`` markers; the
citations come in a ``citations`` field and, for clients that drop extra fields, as a sources
footer in the content (``sources_footer: false`` leaves it out). An assistant message sent back as
history gives its footer's citations to the follow-up.

Errors on these paths are in OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``)
because that is what OpenAI clients parse; the bearer keys are the rest of the API's.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from typing import Any, Iterator, Sequence
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.streaming import closing_stream
from api.auth import Scope
from api.conversation_access import record_turn
from api.conversations import ConversationStore, UnknownConversationError
from api.deps import Conversations, Credentials, Keys, State
from api.errors import ProblemError
from api.openai_schemas import (
    AssistantMessage,
    ChatCitation,
    ChatCompletion,
    ChatCompletionRequest,
    ChatMessage,
    Choice,
    IpqaExtras,
    ModelList,
    ModelOut,
    OpenAIError,
    error_body,
)
from api.state import AppState
from indexes.protocols import SearchFilters
from ipqa.domain import Answer, AnswerCitation
from ipqa.errors import IndexUnavailableError, InputError, IpqaError
from rag.conversation import Turn
from rag.prompts import question_language

router = APIRouter(prefix="/v1", tags=["openai"])
logger = logging.getLogger("ipqa.api")
_STARTED = int(time.time())


class OpenAIHTTPError(Exception):
    """An error answered in OpenAI's shape."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_=type_, param=param, code=code)
        self.headers = headers


def install(app: FastAPI) -> None:
    app.include_router(router)

    @app.exception_handler(OpenAIHTTPError)
    async def _openai_error(request: Request, exc: OpenAIHTTPError) -> JSONResponse:
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def require_read(keys: Keys, credentials: Credentials) -> None:
    """The API's read access, with its 401/403 in OpenAI's shape."""
    try:
        keys.check(Scope.READ, credentials.credentials if credentials else None)
    except ProblemError as exc:
        code = "invalid_api_key" if exc.status == 401 else "insufficient_permissions"
        raise OpenAIHTTPError(exc.status, exc.detail, code=code, headers=exc.headers) from None


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions (the body is parsed by
    hand, for OpenAI-shaped errors, so FastAPI does not register its models as components)."""
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(definitions[ref.rsplit("/", 1)[-1]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError, "description": what}
    for status, what in ((400, "Invalid request (empty messages, last message not the user's, unknown role…)."),
                         (401, "Missing or invalid API key."),
                         (404, "Unknown conversation_id."),
                         (422, "An `as_of` that is not a real date or lies after today (as /v1/ask)."),
                         (503, "The index is not loaded yet."))}


@router.get("/models", response_model=ModelList, summary="The served model (OpenAI-compatible)",
            responses={401: _ERRORS[401]})
async def list_models(request: Request, _: None = Depends(require_read)) -> ModelList:
    return ModelList(data=[ModelOut(id=request.app.state.served_model_name, created=_STARTED)])


@router.get("/models/{model}", response_model=ModelOut, summary="One served model (OpenAI-compatible)",
            responses={401: _ERRORS[401], 404: {"model": OpenAIError, "description": "Not a served model."}})
async def get_model(request: Request, model: str, _: None = Depends(require_read)) -> ModelOut:
    name = request.app.state.served_model_name
    if model != name:
        raise OpenAIHTTPError(404, f"the model {model[:100]!r} does not exist; this service serves {name!r}",
                              param="model", code="model_not_found")
    return ModelOut(id=name, created=_STARTED)


@router.post("/chat/completions", response_model=ChatCompletion, summary="Chat completion (OpenAI-compatible)",
             responses={**_ERRORS, 200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                                         "description": "With `stream: true`: chat.completion.chunk events, "
                                                        "then `[DONE]`."}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": _inlined(ChatCompletionRequest.model_json_schema())}}}})
async def chat_completions(request: Request, state: State, conversations: Conversations,
                           _: None = Depends(require_read)) -> Any:
    body = _parsed(await request.body())
    question, history = split_messages(body.messages)
    try:
        question = state.limits.check_question("messages[-1].content", question)
    except InputError as exc:
        raise OpenAIHTTPError(400, str(exc), param="messages", code="invalid_question") from None
    if body.conversation_id is not None:
        try:
            stored = await run_in_threadpool(conversations.get, body.conversation_id)
        except UnknownConversationError:
            raise OpenAIHTTPError(404, f"no conversation {body.conversation_id!r} (never created, deleted, or "
                                       "expired): create one with POST /v1/conversations",
                                  param="conversation_id", code="conversation_not_found") from None
        history = stored.turns + tuple(history)
    if not state.ready:
        raise OpenAIHTTPError(503, "the index is not loaded yet", type_="server_error", code="index_unavailable")
    completion_id = "chatcmpl-" + secrets.token_hex(12)
    model = request.app.state.served_model_name
    base_url = str(request.base_url).rstrip("/")
    context = _Context(state, conversations, body, question, tuple(history), completion_id, model, base_url)
    if body.stream:
        return StreamingResponse(closing_stream(context.events()), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    try:
        return await run_in_threadpool(context.complete)
    except IndexUnavailableError as exc:
        raise OpenAIHTTPError(503, str(exc), type_="server_error", code="index_unavailable") from None
    except IpqaError as exc:
        raise OpenAIHTTPError(400, str(exc), code="request_failed") from None


def _parsed(raw: bytes) -> ChatCompletionRequest:
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpenAIHTTPError(400, f"the body is not valid JSON: {exc}", code="invalid_json") from None
    try:
        return ChatCompletionRequest.model_validate(payload)
    except ValidationError as exc:
        _refuse_a_bad_date(exc)
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first.get("loc", ()))
        messages = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg', '')}"
                             for e in exc.errors()[:5])
        raise OpenAIHTTPError(400, f"the request is invalid: {messages}", param=param or None,
                              code="invalid_request") from None


def _refuse_a_bad_date(exc: ValidationError) -> None:
    """A bad ``as_of`` is a 422, as on /v1/ask and /v1/search (one date rule for every endpoint),
    in OpenAI's error shape; every other invalid request stays OpenAI's 400."""
    for error in exc.errors():
        if tuple(error.get("loc", ()))[:1] == ("as_of",):
            raise OpenAIHTTPError(422, f"as_of: {error.get('msg', '')}", param="as_of", code="invalid_as_of") from None


def split_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[Turn]]:
    """(the question, the earlier turns). The last message must be the user's; each earlier user
    message is a turn, answered by the assistant message after it (if any)."""
    if not messages:
        raise OpenAIHTTPError(400, "messages must not be empty", param="messages", code="empty_messages")
    last = messages[-1]
    if last.role != "user":
        raise OpenAIHTTPError(400, f"the last message must be the user's question, not {last.role!r}",
                              param=f"messages.{len(messages) - 1}.role", code="last_message_not_user")
    question = last.text().strip()
    if not question:
        raise OpenAIHTTPError(400, "the last message (the question) is empty",
                              param=f"messages.{len(messages) - 1}.content", code="empty_question")
    turns: list[Turn] = []
    asked: str | None = None
    for message in messages[:-1]:
        text = message.text().strip()
        if message.role == "user" and text:
            if asked is not None:
                turns.append(Turn(asked))
            asked = text
        elif message.role == "assistant" and asked is not None:
            answer, citations = split_footer(text)
            turns.append(Turn(asked, answer, citations))
            asked = None
    if asked is not None:
        turns.append(Turn(asked))
    return question, turns


# --- the sources footer ------------------------------------------------------------------------------

_FOOTER_HEADINGS = {"zh": "来源", "en": "Sources"}
_FOOTER = re.compile(r"\n\n(?:Sources|来源)[:：]\n(?P<lines>(?:\[\d+\] .*(?:\n|$))+)\s*$")
_FOOTER_LINE = re.compile(r"^\[(?P<n>\d+)\] (?P<citation>.+?)(?: — (?:verified|unsupported|unresolvable|已核实|未获支持|无法解析))?$")
_STATUS = {"zh": {"verified": "已核实", "unsupported": "未获支持", "unresolvable": "无法解析"},
           "en": {"verified": "verified", "unsupported": "unsupported", "unresolvable": "unresolvable"}}


def verification_status(citation: AnswerCitation) -> str:
    """verified / unsupported / unresolvable, as the page and the footer show it."""
    if citation.verified:
        return "verified"
    return "unresolvable" if citation.problem == "unresolved" else "unsupported"


def sources_footer(citations: Sequence[AnswerCitation], language: str) -> str:
    if not citations:
        return ""
    words = _STATUS[language]
    lines = [f"[{c.number}] {c.citation} — {words[verification_status(c)]}" for c in citations]
    return f"\n\n{_FOOTER_HEADINGS[language]}:\n" + "\n".join(lines)


def split_footer(content: str) -> tuple[str, tuple[str, ...]]:
    """(the answer without its sources footer, the footer's citations)."""
    match = _FOOTER.search(content)
    if match is None:
        return content, ()
    citations = [m.group("citation") for line in match.group("lines").splitlines()
                 if (m := _FOOTER_LINE.match(line.strip()))]
    return content[:match.start()], tuple(dict.fromkeys(citations))


# --- answering -----------------------------------------------------------------------------------------

class _Context:
    """One chat completion: the question, its history, and how to render the answer."""

    def __init__(self, state: AppState, conversations: ConversationStore, body: ChatCompletionRequest,
                 question: str, history: tuple[Turn, ...], completion_id: str, model: str, base_url: str) -> None:
        self.state = state
        self.conversations = conversations
        self.body = body
        self.question = question
        self.history = history
        self.completion_id = completion_id
        self.model = model
        self.base_url = base_url
        self.created = int(time.time())
        self.language = question_language(question)
        # the law as of the asked date (default: today, decided by the retriever as for /v1/ask)
        self.filters = SearchFilters(as_of=body.as_of) if body.as_of is not None else None

    def complete(self) -> dict[str, Any]:
        with self.state.pinned() as services:
            answer = services.answerer.answer(self.question, history=self.history, filters=self.filters)
            version = services.version
        self._record(answer)
        content = answer.text + self._ending(answer)
        return ChatCompletion(id=self.completion_id, created=self.created, model=self.model,
                              choices=[Choice(message=AssistantMessage(content=content))],
                              citations=self._citations(answer), ipqa=self._extras(answer, version)
                              ).model_dump(mode="json")

    def events(self) -> Iterator[str]:
        """SSE ``chat.completion.chunk`` frames: the role, each piece as it is generated, then the
        ending (abstention note, sources footer) with ``citations`` and ``finish_reason``, then [DONE]."""
        yield self._chunk({"role": "assistant", "content": ""})
        try:
            with self.state.pinned() as services:
                for item in services.answerer.stream_answer(self.question, history=self.history,
                                                                 filters=self.filters):
                    if isinstance(item, Answer):
                        self._record(item)
                        yield self._chunk({"content": self._ending(item)}, finish_reason="stop",
                                          citations=[c.model_dump() for c in self._citations(item)],
                                          ipqa=self._extras(item, services.version).model_dump())
                    elif item:
                        yield self._chunk({"content": item})
        except IpqaError as exc:
            yield _data(error_body(str(exc), code="request_failed"))
        except OpenAIHTTPError as exc:
            yield _data(exc.body)
        except Exception:
            logger.exception("streaming chat completion failed")
            yield _data(error_body("an unexpected error occurred; it has been logged", type_="server_error"))
        yield "data: [DONE]\n\n"

    def _chunk(self, delta: dict[str, Any], *, finish_reason: str | None = None, **extra: Any) -> str:
        return _data({"id": self.completion_id, "object": "chat.completion.chunk", "created": self.created,
                      "model": self.model,
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
                      **extra})

    def _ending(self, answer: Answer) -> str:
        note = ""
        if answer.abstained:
            note = (f"\n\n（ipqa 未作答：{answer.abstain_reason}）" if self.language == "zh"
                    else f"\n\n(ipqa abstained: {answer.abstain_reason})")
        # a cited law version no longer in force: say so and name the current article, before the sources
        superseded = list(dict.fromkeys(c.note for c in answer.citations if c.note))
        if superseded:
            note += "\n\n" + "\n".join(superseded)
        footer = sources_footer(answer.citations, self.language) if self.body.sources_footer else ""
        return note + footer

    def _citations(self, answer: Answer) -> list[ChatCitation]:
        return [ChatCitation(n=c.number, citation=c.citation, chunk_id=c.chunk_id,
                             url=self._unit_url(c) if c.chunk_id else None, quote=c.quoted_span,
                             verified=c.verified, support=float(c.support), problem=c.problem,
                             current=None if c.current is None else list(c.current), note=c.note)
                for c in answer.citations]

    def _unit_url(self, citation: AnswerCitation) -> str:
        return (f"{self.base_url}/?unit={quote(citation.chunk_id or '')}&quote={quote(citation.quoted_span[:300])}"
                f"&status={verification_status(citation)}")

    def _extras(self, answer: Answer, version: str) -> IpqaExtras:
        return IpqaExtras(question=answer.question, question_type=str(answer.question_type),
                          abstained=answer.abstained, abstain_reason=answer.abstain_reason,
                          standalone_question=answer.standalone_question, carried=list(answer.carried),
                          index_version=version, conversation_id=self.body.conversation_id)

    def _record(self, answer: Answer) -> None:
        if self.body.conversation_id is None:
            return
        try:
            record_turn(self.conversations, self.body.conversation_id, answer)
        except ProblemError as exc:  # deleted or expired while the question was answered
            raise OpenAIHTTPError(404, exc.detail, param="conversation_id", code="conversation_not_found") from None


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
