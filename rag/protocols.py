"""One protocol per stage of answering. Implementations are chosen by name from registries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence, runtime_checkable

from indexes.protocols import SearchFilters
from ipqa.domain import Answer, Hit, QuestionType


@runtime_checkable
class Retriever(Protocol):
    def retrieve(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]: ...


@runtime_checkable
class Reranker(Protocol):
    name: str

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]: ...

    def serves(self, query: str) -> bool:
        """Whether :meth:`rerank` would reorder this query's hits (e.g. a model trained on one
        language leaves others alone): retrieval then skips loading every candidate for it."""


@dataclass(frozen=True)
class Prompt:
    system: str
    user: str
    sources: tuple[Hit, ...]  # source n in the prompt is sources[n-1]
    language: str
    question_type: QuestionType
    question: str = ""  # the user's question as asked (the extractive generator selects quotes by it)


@runtime_checkable
class Generator(Protocol):
    name: str

    def generate(self, prompt: Prompt) -> str: ...

    def stream(self, prompt: Prompt) -> Iterator[str]:
        """Yield text pieces (tokens) as they are produced."""
        ...


@runtime_checkable
class ContextLimited(Protocol):
    """A generator whose model reads a bounded number of tokens (a local model): the answering
    pipeline fits the prompt to the budget (``rag.prompts.fit_prompt``) before generating."""

    def prompt_token_budget(self) -> int | None:
        """Tokens the prompt may take (the model's context minus the tokens to generate); None
        when the model states no limit."""
        ...

    def count_prompt_tokens(self, prompt: Prompt) -> int: ...


@runtime_checkable
class SupportJudge(Protocol):
    """Scores how well a cited text supports a statement, in [0, 1]."""

    name: str

    def support(self, statement: str, evidence: str) -> float: ...


@runtime_checkable
class Answerer(Protocol):
    def answer(self, question: str, *, question_type: QuestionType | None = None,
               filters: SearchFilters | None = None, k: int | None = None) -> Answer: ...
