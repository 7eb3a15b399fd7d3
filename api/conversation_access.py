"""The conversation store as the routers use it: unknown ids become 404 problems, answers become turns."""

from __future__ import annotations

from api.conversations import ConversationStore, UnknownConversationError
from api.errors import ProblemError
from ipqa.domain import Answer
from rag.conversation import Turn


def unknown_conversation(conversation_id: str) -> ProblemError:
    return ProblemError(404, f"no conversation {conversation_id!r} (never created, deleted, or expired under "
                             "the retention limit): create one with POST /v1/conversations",
                        slug="no-such-conversation", title="No such conversation")


def conversation_history(store: ConversationStore, conversation_id: str) -> tuple[Turn, ...]:
    try:
        return store.get(conversation_id).turns
    except UnknownConversationError:
        raise unknown_conversation(conversation_id) from None


def turn_of(answer: Answer) -> Turn:
    """What a later follow-up needs of an answered question: the question, the text, the citations
    that survived verification."""
    return Turn(question=answer.question, answer=answer.text,
                citations=tuple(dict.fromkeys(c.citation for c in answer.citations if c.verified)))


def record_turn(store: ConversationStore, conversation_id: str, answer: Answer) -> None:
    try:
        store.append(conversation_id, turn_of(answer))
    except UnknownConversationError:  # expired or deleted while the question was answered
        raise unknown_conversation(conversation_id) from None
