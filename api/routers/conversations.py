"""/v1/conversations: server-side conversations for follow-up questions (see api/conversations.py)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response, status

from api.conversation_access import unknown_conversation
from api.conversations import Conversation, UnknownConversationError
from api.deps import Conversations, ReadAccess
from api.schemas import ConversationOut, HistoryTurn

router = APIRouter(prefix="/v1", tags=["conversations"])

_ID = Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$", description="A conversation id.")
_NOT_FOUND = {404: {"description": "No such conversation (never created, deleted, or expired)."}}


@router.post("/conversations", response_model=ConversationOut, status_code=status.HTTP_201_CREATED,
             summary="Start a conversation (pass its id to /v1/ask)")
def create_conversation(conversations: Conversations, _: ReadAccess) -> ConversationOut:
    return _out(conversations.create())


@router.get("/conversations/{conversation_id}", response_model=ConversationOut, summary="A conversation's turns",
            responses=_NOT_FOUND)
def get_conversation(conversations: Conversations, _: ReadAccess, conversation_id: str = _ID) -> ConversationOut:
    try:
        return _out(conversations.get(conversation_id))
    except UnknownConversationError:
        raise unknown_conversation(conversation_id) from None


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Delete a conversation", responses=_NOT_FOUND)
def delete_conversation(conversations: Conversations, _: ReadAccess, conversation_id: str = _ID) -> Response:
    try:
        conversations.delete(conversation_id)
    except UnknownConversationError:
        raise unknown_conversation(conversation_id) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _out(conversation: Conversation) -> ConversationOut:
    return ConversationOut(id=conversation.id, created_at=conversation.created_at,
                           updated_at=conversation.updated_at,
                           turns=[HistoryTurn(question=t.question, answer=t.answer, citations=list(t.citations))
                                  for t in conversation.turns])
