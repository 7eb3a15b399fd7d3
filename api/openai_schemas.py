"""Bodies of the OpenAI-compatible endpoints (``/v1/chat/completions``, ``/v1/models``).

Requests accept the fields OpenAI clients send (``temperature``, ``max_tokens``, ``user``, … are
accepted and ignored: the answer is ipqa's, verified, not sampled) and refuse what ipqa cannot
honour: roles other than system/developer/user/assistant, non-text content parts, ``n`` > 1.
Responses are OpenAI's shape plus ``citations`` (and ``ipqa``: abstention, the follow-up as
resolved), which OpenAI clients keep as extra fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import AS_OF_PATTERN, checked_as_of

ROLES = ("system", "developer", "user", "assistant")
MAX_MESSAGES = 101  # 50 earlier turns (as /v1/ask's history) and the question
MAX_MESSAGE_CHARS = 100_000  # an earlier answer may be long; the question itself is held to max_question_chars


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls: clients send them, nothing uses them
    role: str = Field(description=f"One of {', '.join(ROLES)}.",
                      json_schema_extra={"enum": list(ROLES)})  # the document says what the validator refuses
    content: str | list[TextPart] | None = Field(default=None)

    @field_validator("role")
    @classmethod
    def _known_role(cls, role: str) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role[:40]!r}; ipqa accepts {', '.join(ROLES)}")
        return role

    @field_validator("content")
    @classmethod
    def _bounded(cls, content: str | list[TextPart] | None) -> str | list[TextPart] | None:
        if isinstance(content, str) and len(content) > MAX_MESSAGE_CHARS:
            raise ValueError(f"is {len(content)} characters long; the limit is {MAX_MESSAGE_CHARS}")
        return content

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(default="ipqa", max_length=200, description="Any value; the answer names the served model.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES,
                                        description="The conversation; the last message is the user's question.")
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1, description="Only one answer per question.")
    sources_footer: bool = Field(default=True, description="Append the sources as text for clients that ignore "
                                                           "the `citations` field.")
    conversation_id: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
                                        description="A server-side conversation (POST /v1/conversations) whose "
                                                    "turns precede these messages; the answer is added to it.")
    as_of: str | None = Field(
        default=None, pattern=AS_OF_PATTERN, examples=["2015-06-01"],
        description="YYYY-MM-DD, a real date not after today (else 422), as /v1/ask: of each law only the "
                    "version in force on that date is searched and cited (default: the version in force "
                    "today). OpenAI clients send it with `extra_body={\"as_of\": …}`.")

    @field_validator("as_of")
    @classmethod
    def _a_past_date(cls, value: str | None) -> str | None:
        return checked_as_of(value)


class ChatCitation(BaseModel):
    n: int
    citation: str
    chunk_id: str | None
    url: str | None = Field(description="The unit view of the web page (quoted span highlighted).")
    quote: str
    verified: bool
    support: float
    problem: str | None
    current: list[str] | None = Field(default=None, description="Set when the cited law version is not the one "
                                      "in force today: today's corresponding articles (empty: deleted since).")
    note: str | None = Field(default=None, description="Says that the cited version is no longer current and "
                                                       "names the current article (also written in the content).")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class IpqaExtras(BaseModel):
    question: str
    question_type: str
    abstained: bool
    abstain_reason: str | None
    standalone_question: str | None
    carried: list[str]
    index_version: str
    conversation_id: str | None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: None = Field(default=None, description="Not reported: the extractive generator counts no tokens.")
    citations: list[ChatCitation]
    ipqa: IpqaExtras


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ipqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorBody


def error_body(message: str, *, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return OpenAIError(error=OpenAIErrorBody(message=message, type=type_, param=param, code=code)).model_dump()
