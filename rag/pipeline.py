"""Answering a question: type → retrieval → prompt → generation (streamed) → citation verification.

:class:`Answerer` gets every stage as an argument (retriever, generator, support judge, chunk store),
so tests and the API can swap any of them; :func:`build_answerer` wires the configured ones from
``Settings`` for the CLI and the API. It abstains rather than answer from weak evidence: when
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
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from indexes.protocols import ChunkStore, SearchFilters
from ipqa.domain import Answer, Hit, QuestionType
from ipqa.errors import InputError
from rag.conversation import ResolvedQuestion, Turn, resolve_followup
from rag.generators import GeneratorError
from rag.prompts import build_prompt, fit_prompt
from rag.protocols import ContextLimited, Generator, Prompt, Retriever, SupportJudge
from rag.query import LawNames
from rag.question_types import QuestionTypeClassifier
from rag.verify import CitationVerifier, known_law_titles

if TYPE_CHECKING:
    from indexes.protocols import IndexSnapshot
    from ipqa.settings import Settings


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


class Answerer:
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
            known_laws = known_law_titles(store)
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
            citations=verification.citations,
            statements=verification.statements,
            evidence=prompt.sources,
            generator=self.generator.name,
            abstained=reason is not None,
            abstain_reason=reason,
            timings=clock.done(),
            **conversation,
        )

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


def configured_generator(settings: "Settings") -> Generator:
    """The generator named by ``settings.generator`` (may load a large model: create it once)."""
    from rag.generators import GeneratorOptions, create_generator

    return create_generator(
        settings.generator,
        GeneratorOptions(
            llm_path=settings.llm_path,
            lora_path=settings.lora_path,
            openai_base_url=settings.openai_base_url,
            openai_model=settings.openai_model,
            openai_api_key=settings.openai_api_key,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            device=settings.embed_device,
        ),
    )


def configured_judge(settings: "Settings") -> SupportJudge:
    """The support judge named by ``settings.support_judge`` (may load a model: create it once)."""
    from rag.judges import create_judge

    return create_judge(settings.support_judge, model_path=settings.support_judge_path, device=settings.embed_device)


def build_answerer(
    settings: "Settings",
    snapshot: "IndexSnapshot",
    *,
    retriever: Retriever | None = None,
    generator: Generator | None = None,
    judge: SupportJudge | None = None,
    classifier: QuestionTypeClassifier | None = None,
) -> Answerer:
    """The configured answerer over ``snapshot`` (used by the CLI and the API). A service that
    answers over several index versions passes one ``generator``, ``judge`` and ``classifier`` to
    every call, so models are loaded and trained once, not per version."""
    retriever = retriever or build_retriever(settings, snapshot)
    # the hybrid retriever has already read the index's law titles: don't page through them again
    law_names = getattr(retriever, "law_names", None)
    return Answerer(
        retriever,
        generator or configured_generator(settings),
        judge or configured_judge(settings),
        snapshot.store,
        classifier=classifier,
        known_laws=law_names.all_titles() if law_names is not None else None,
        law_names=law_names,
        top_k=settings.top_k,
        support_threshold=settings.support_threshold,
        min_hit_score=settings.min_evidence_score,
        max_question_chars=settings.max_question_chars,
    )


def build_retriever(settings: "Settings", snapshot: "IndexSnapshot") -> Retriever:
    """The hybrid retriever configured from ``settings`` (``rag.retrieval.build_retriever``)."""
    from rag.retrieval import build_retriever as build_hybrid

    return build_hybrid(settings, snapshot)
