"""POST /v1/ask: an answer with verified citations, as JSON or as Server-Sent Events.

Streaming events (each ``data`` is one JSON object):
``token`` ``{"text": …}`` for every piece of the answer as it is generated, then ``answer`` with the
complete response (the same object as the JSON reply: citations, statements, evidence…), or
``error`` with a problem detail if answering failed after the stream began.

A follow-up is answered in its conversation: ``history`` (the client keeps the turns) or
``conversation_id`` (the server keeps them, see :mod:`api.conversations`; the answered turn is
appended to it).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.streaming import closing_stream
from api.context import documents_by_id
from api.conversation_access import conversation_history, record_turn
from api.deps import Conversations, ReadAccess, State
from api.errors import ProblemError
from api.schemas import AskRequest, AskResponse
from api.state import AppState, Services
from indexes.protocols import SearchFilters
from ipqa.domain import Answer
from ipqa.errors import IndexUnavailableError, IpqaError
from rag.conversation import Turn

router = APIRouter(prefix="/v1", tags=["ask"])
logger = logging.getLogger("ipqa.api")

_SSE_DOC = {"text/event-stream": {"schema": {"type": "string"},
                                  "description": "With `stream: true`: `token` events, then `answer` (or `error`)."}}


@router.post("/ask", response_model=AskResponse, summary="Answer a question with verified citations",
             responses={200: {"content": _SSE_DOC}})
def ask(body: AskRequest, request: Request, state: State, conversations: Conversations, _: ReadAccess) -> Any:
    question = state.limits.check_question("question", body.question)
    filters = body.search_filters()
    # both keys sent (even as null) is what the document's `not: {required: [...]}` refuses
    if {"history", "conversation_id"} <= body.model_fields_set:
        raise ProblemError(422, "send either 'history' or 'conversation_id', not both", slug="validation",
                           title="Invalid request",
                           errors=[{"loc": ["body", "conversation_id"], "msg": "not together with history",
                                    "type": "conflict"}])
    history: tuple[Turn, ...] = tuple(t.to_domain() for t in body.history or ())
    if body.conversation_id is not None:
        history = conversation_history(conversations, body.conversation_id)  # 404 when unknown
    if body.stream:
        if not state.ready:  # say so with a status code while one can still be sent
            raise IndexUnavailableError("the index is not loaded yet")
        events = _events(state, question, body, filters, request.url.path, history, conversations)
        return StreamingResponse(closing_stream(events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    with state.pinned() as services:
        answer = services.answerer.answer(question, question_type=body.type, filters=filters, k=body.k,
                                          history=history)
        if body.conversation_id is not None:
            record_turn(conversations, body.conversation_id, answer)
        return _response(services, answer, state, body.conversation_id)


def _response(services: Services, answer: Answer, state: AppState,
              conversation_id: str | None = None) -> AskResponse:
    document_ids = [h.chunk.document_id for h in answer.evidence] + [c.document_id for c in answer.citations]
    documents = documents_by_id(services.snapshot.store, document_ids, state.uploads_dir, services.documents)
    return AskResponse.of(answer, index_version=services.version, documents=documents,
                          conversation_id=conversation_id)


def _events(state: AppState, question: str, body: AskRequest, filters: SearchFilters | None,
            path: str, history: tuple[Turn, ...] = (), conversations: Any = None) -> Iterator[str]:
    """SSE frames; the index version stays pinned until the last frame is sent."""
    try:
        with state.pinned() as services:
            for item in services.answerer.stream_answer(question, question_type=body.type, filters=filters,
                                                        k=body.k, history=history):
                if isinstance(item, Answer):
                    if body.conversation_id is not None:
                        record_turn(conversations, body.conversation_id, item)
                    yield _frame("answer", _response(services, item, state, body.conversation_id)
                                 .model_dump_json())
                else:
                    yield _frame("token", json.dumps({"text": item}, ensure_ascii=False))
    except IpqaError as exc:
        yield _frame("error", _problem_json(422 if not isinstance(exc, IndexUnavailableError) else 503,
                                            str(exc), path))
    except ProblemError as exc:  # the conversation was deleted or expired while answering
        yield _frame("error", _problem_json(exc.status, exc.detail, path))
    except Exception:
        logger.exception("streaming answer failed")
        yield _frame("error", _problem_json(500, "an unexpected error occurred; it has been logged", path))


def _frame(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


def _problem_json(status: int, detail: str, path: str) -> str:
    return json.dumps({"type": "about:blank", "title": "Answering failed", "status": status, "detail": detail,
                       "instance": path}, ensure_ascii=False)
