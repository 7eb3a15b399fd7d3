"""Answering a question: type → retrieval → prompt → generation (streamed) → citation verification.

:class:`AnswerPipeline` (the implementation of the :class:`rag.protocols.Answerer` protocol) gets
every stage as an argument (retriever, generator, support judge, chunk store), so tests and the API
can swap any of them; :func:`rag.compose.build_answerer` wires the configured ones from ``Settings``. It abstains rather than answer from weak evidence: when
retrieval finds nothing, or nothing scoring ``min_hit_score`` (``Settings.min_evidence_score``) or
more; when no citation of the generated answer survives verification; and when no statement of the
answer is supported by what it cites (support below ``support_threshold`` everywhere) — the last
is the check that does not depend on the retriever's score scale.

A generator with a bounded context (:class:`rag.protocols.ContextLimited`, the local model) gets a
prompt fitted to it: the lowest-ranked sources are left out (``rag.prompts.fit_prompt``), and the
answer's evidence is the sources the model was shown.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Iterable, Iterator, Sequence

from indexes.protocols import ChunkStore, SearchFilters
from ipqa.domain import Answer, AnswerCitation, Hit, QuestionType
from ipqa.errors import InputError
from ipqa.language import detect_language
from rag.conversation import ResolvedQuestion, Turn, resolve_followup
from rag.generators import GeneratorError
from rag.history import LawHistory, superseded_note
from rag.prompts import build_prompt, fit_prompt
from rag.protocols import ContextLimited, Generator, Prompt, Retriever, SupportJudge
from rag.query import LawNames
from rag.question_types import QuestionTypeClassifier
from rag.verify import CitationVerifier, law_titles_in_store


class _Clock:
    """Wall-clock timings in milliseconds: ``<stage>_ms`` is how long that stage took;
    ``first_token_ms`` and ``total_ms`` are measured from the start of the request."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[f"{stage}_ms"] = round((now - self.last) * 1000, 2)
        self.last = now

    def mark(self, name: str) -> None:
        self.timings[f"{name}_ms"] = round((time.perf_counter() - self.start) * 1000, 2)

    def done(self) -> dict[str, float]:
        self.mark("total")
        return dict(self.timings)


class AnswerPipeline:
    """Implements :class:`rag.protocols.Answerer`; :meth:`stream_answer` also yields the tokens."""

    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        judge: SupportJudge,
        store: ChunkStore,
        *,
        classifier: QuestionTypeClassifier | None = None,
        top_k: int = 10,
        support_threshold: float = 0.3,
        min_hit_score: float | None = None,
        max_question_chars: int = 2000,
        known_laws: Iterable[str] | None = None,
        law_names: LawNames | None = None,
    ) -> None:
        """``known_laws``: the law titles of the index, for reading citations in answers (see
        :class:`rag.verify.CitationVerifier`); by default read once from ``store`` here, when it
        can list documents, so that every index version's answerer has its own."""
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.retriever = retriever
        self.generator = generator
        self.judge = judge
        self.store = store
        self.classifier = classifier or QuestionTypeClassifier()
        self.top_k = top_k
        self.min_hit_score = min_hit_score
        self.max_question_chars = max_question_chars
        if known_laws is None and law_names is not None:
            known_laws = law_names.all_titles()
        if known_laws is None and callable(getattr(store, "documents", None)):
            known_laws = law_titles_in_store(store)
        # the index's laws, for carrying them from one turn of a conversation to the next
        known_laws = frozenset(known_laws) if known_laws is not None else None
        self._known_laws = known_laws
        self.law_names = law_names if law_names is not None else LawNames(known_laws or ())
        self.verifier = CitationVerifier(store, judge, threshold=support_threshold, known_laws=known_laws)

    def answer(
        self,
        question: str,
        *,
        question_type: QuestionType | str | None = None,
        filters: SearchFilters | None = None,
        k: int | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        result = None
        for item in self.stream_answer(question, question_type=question_type, filters=filters, k=k,
                                       history=history):
            if isinstance(item, Answer):
                result = item
        assert result is not None  # stream_answer always ends with the Answer
        return result

    def stream_answer(
        self,
        question: str,
        *,
        question_type: QuestionType | str | None = None,
        filters: SearchFilters | None = None,
        k: int | None = None,
        history: Sequence[Turn] = (),
    ) -> Iterator[str | Answer]:
        """Yield the answer's text pieces as they are generated, then the verified :class:`Answer`.

        ``history``: the earlier turns of the conversation, oldest first. A follow-up is made
        standalone against them (``rag.conversation``) for classification and retrieval, and a
        generator sees them in its prompt (within its token budget)."""
        question = self._checked(question)
        if k is not None and k < 1:
            raise InputError("k", f"must be >= 1, got {k}")
        clock = _Clock()
        resolved = self.resolve(question, history)
        qtype = self.classifier.classify(resolved.standalone, override=question_type).question_type
        clock.lap("classify")
        hits = self.retriever.retrieve(resolved.search_query, k or self.top_k, filters)
        clock.lap("retrieve")
        conversation = dict(standalone_question=resolved.standalone if resolved.is_followup else None,
                            carried=resolved.carried)

        def abstain(reason: str, text: str = "", evidence: tuple[Hit, ...] = tuple(hits)) -> Answer:
            return Answer(
                question=question,
                question_type=qtype,
                text=text,
                citations=(),
                statements=(),
                evidence=evidence,
                generator=self.generator.name,
                abstained=True,
                abstain_reason=reason,
                timings=clock.done(),
                **conversation,
            )

        if not hits:
            yield abstain(
                "no evidence: retrieval found no provision for the question"
                + ("" if filters is None or filters.is_empty() else " within the filters")
            )
            return
        if self.min_hit_score is not None and hits[0].score < self.min_hit_score:
            yield abstain(
                f"evidence too weak: the best hit scores {hits[0].score:.4f}, "
                f"below the threshold {self.min_hit_score}"
            )
            return

        prompt = self._prompt(question, qtype, hits, history, resolved)
        clock.lap("prompt")
        pieces: list[str] = []
        try:
            for piece in self.generator.stream(prompt):
                if not pieces:
                    clock.mark("first_token")
                pieces.append(piece)
                yield piece
        except GeneratorError as exc:
            clock.lap("generate")
            yield abstain(f"the generator failed: {exc}", text="".join(pieces))
            return
        clock.lap("generate")
        text = "".join(pieces)

        verification = self.verifier.verify(text, prompt.sources)
        citations = self._with_currency(verification.citations, question)
        clock.lap("verify")
        reason = None
        if not verification.citations:
            reason = "the answer cites no source, so nothing in it can be verified"
        elif not verification.verified_citations:
            problems = sorted({c.problem or "unverified" for c in verification.citations})
            reason = f"no citation of the answer could be verified ({', '.join(problems)})"
        elif not any(s.supported for s in verification.statements):
            best = max((s.support for s in verification.statements), default=0.0)
            reason = (
                f"no statement of the answer is supported by what it cites (best support {best:.2f}, "
                f"threshold {self.verifier.threshold})"
            )
        yield Answer(
            question=question,
            question_type=qtype,
            text=text,
            citations=citations,
            statements=verification.statements,
            evidence=prompt.sources,
            generator=self.generator.name,
            abstained=reason is not None,
            abstain_reason=reason,
            timings=clock.done(),
            **conversation,
        )

    def _with_currency(self, citations: Sequence[AnswerCitation], question: str) -> tuple[AnswerCitation, ...]:
        """Each citation of a law version not in force today gets the current corresponding article(s)
        (by the article alignment, ``rag.history``) and a note in the question's language."""
        if not callable(getattr(self.store, "law_versions", None)):  # a store without law versions
            return tuple(citations)
        history = LawHistory(self.store)
        language = detect_language(question).value
        noted = []
        for citation in citations:
            chunk = self.store.chunk(citation.chunk_id) if citation.chunk_id else None
            document = self.store.document(citation.document_id) if citation.document_id else None
            current = history.current_counterparts(chunk, document) if chunk and document else None
            if current is not None:
                citation = replace(citation, current=tuple(u.citation for u in current),
                                   note=superseded_note(citation.citation, current, language))
            noted.append(citation)
        return tuple(noted)

    def resolve(self, question: str, history: Sequence[Turn]) -> ResolvedQuestion:
        """``question`` made standalone against ``history`` (itself when it stands alone)."""
        if not history:
            return ResolvedQuestion(question, question, False)
        return resolve_followup(question, history, law_names=self.law_names, known_laws=self._known_laws)

    def _prompt(self, question: str, qtype: QuestionType, hits: list[Hit], history: Sequence[Turn],
                resolved: ResolvedQuestion) -> Prompt:
        """The prompt with every hit, or, for a generator with a bounded context, with the
        best-ranked hits that fit in it (earlier turns of the conversation are left out first)."""
        turns = [(t.question, t.answer) for t in history]
        standalone = resolved.standalone if resolved.is_followup else None
        if isinstance(self.generator, ContextLimited):
            budget = self.generator.prompt_token_budget()
            if budget is not None:
                return fit_prompt(
                    question, qtype, hits, count_tokens=self.generator.count_prompt_tokens, budget=budget,
                    history=turns, standalone=standalone,
                )
        return build_prompt(question, qtype, hits, history=turns, standalone=standalone)

    def _checked(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InputError("question", "must not be empty")
        question = question.strip()
        if len(question) > self.max_question_chars:
            raise InputError(
                "question", f"is {len(question)} characters long; the limit is {self.max_question_chars}"
            )
        return question
