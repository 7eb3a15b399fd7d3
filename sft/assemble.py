"""From a candidate to a kept example, or to a drop reason.

The sources are the gold provisions among retrieved distractors (BM25 over the same index, the
gold's own unit in every version left out), in an order shuffled by a seed derived from the
question, so that gold is not always [1]. The prompt is ``rag.prompts.build_prompt`` (or the exam
prompt), exactly what ipqa serves with. The answer is then checked by ipqa's own verifier: an
example is kept only when every citation in it is verified and every statement that cites is
supported; anything else is dropped with the reason.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from indexes.protocols import SearchFilters
from ipqa.domain import Hit
from ipqa.errors import IpqaError
from rag.prompts import build_prompt
from rag.protocols import Prompt
from rag.verify import CitationVerifier, quotations
from sft.candidates import GOLD_MARK, Candidate, render_answer
from sft.records import Example, Message

Writer = Callable[[Candidate, Prompt], str]
Search = Callable[[str, int, SearchFilters | None], list[Hit]]  # (query, k, filters) -> hits

_SPACE = re.compile(r"\s+")


class AnswerRejected(Exception):
    """Raised by a writer that will not give an answer worth checking (``reason`` is the drop reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Dropped:
    reason: str
    detail: str = ""


class Assembler:
    def __init__(self, search: Search, verifier: CitationVerifier, *, sources: int = 5, seed: int = 0) -> None:
        if sources < 1:
            raise ValueError(f"sources must be >= 1, got {sources}")
        self.search = search
        self.verifier = verifier
        self.sources = sources
        self.seed = seed

    def layout(self, candidate: Candidate) -> tuple[list[Hit], list[int]]:
        """The numbered sources and, for each gold provision, its number."""
        gold = [Hit(chunk=c, score=1.0, source="gold") for c in candidate.gold]
        wanted = max(0, self.sources - len(gold))
        distractors: list[Hit] = []
        if wanted:
            taken = {c.id for c in candidate.gold} | {c.citation for c in candidate.gold}
            query = candidate.retrieval_query or candidate.question
            for hit in self.search(query, wanted * 3 + len(gold), candidate.distractor_filters):
                if (hit.chunk.id in taken or hit.chunk.citation in taken
                        or hit.chunk.id in candidate.exclude or hit.chunk.document_id in candidate.exclude):
                    continue
                taken |= {hit.chunk.id, hit.chunk.citation}
                distractors.append(Hit(chunk=hit.chunk, score=hit.score, source="distractor"))
                if len(distractors) == wanted:
                    break
        hits = gold + distractors
        order = list(range(len(hits)))
        digest = hashlib.sha256(f"{self.seed}\x00{candidate.question}".encode()).digest()
        random.Random(digest).shuffle(order)
        laid_out = [hits[i] for i in order]
        numbers = [order.index(i) + 1 for i in range(len(gold))]
        return laid_out, numbers

    def prompt(self, candidate: Candidate, hits: Sequence[Hit]) -> Prompt:
        if candidate.exam is not None:
            from rag.exam_prompt import build_exam_prompt

            exam = candidate.exam
            return build_exam_prompt(exam.question, exam.options, exam.multiple, hits)
        return build_prompt(candidate.question, candidate.question_type, hits, candidate.language)

    def assemble(self, candidate: Candidate, writer: "Writer | None" = None) -> Example | Dropped:
        """``writer``: who writes the answer from the prompt (a teacher model); by default the
        candidate's own answer, numbered."""
        if not candidate.question.strip():
            return Dropped("empty_question")
        if candidate.exam is None and not candidate.gold:
            return Dropped("gold_unresolved")
        hits, numbers = self.layout(candidate)
        if any(int(m.group(1)) >= len(numbers) for m in GOLD_MARK.finditer(candidate.answer)):
            return Dropped("bad_candidate", "a citation mark names no gold provision")
        prompt = self.prompt(candidate, hits)
        if writer is None:
            text = render_answer(candidate.answer, numbers)
        else:
            try:
                text = writer(candidate, prompt)
            except AnswerRejected as exc:
                return Dropped(exc.reason)
            except IpqaError as exc:
                return Dropped("teacher_failed", str(exc))
        return self.check(candidate, prompt, text, [hits[n - 1].chunk.citation for n in numbers])

    def check(self, candidate: Candidate, prompt: Prompt, text: str, gold: list[str]) -> Example | Dropped:
        text = text.strip()
        if not text:
            return Dropped("empty_answer")
        # A quotation must be something the model was shown: a source is cut at 2,000 characters in
        # the prompt, while the verifier reads the whole unit.
        shown = _SPACE.sub("", prompt.user)
        for quote in quotations(text):
            if len(quote.strip()) >= 6 and _SPACE.sub("", quote) not in shown:
                return Dropped("quote_not_in_prompt")
        verification = self.verifier.verify(text, prompt.sources)
        if candidate.exam is None and not verification.citations:
            return Dropped("no_citation")
        for citation in verification.citations:
            if not citation.verified:
                return Dropped(f"citation_{citation.problem or 'unverified'}", citation.citation)
        if any(s.citation_numbers and not s.supported for s in verification.statements):
            return Dropped("statement_unsupported")
        key = f"{candidate.direction}\x00{candidate.question}\x00{text}"
        return Example(
            id=f"{candidate.direction}-{hashlib.sha256(key.encode()).hexdigest()[:16]}",
            direction=candidate.direction,
            language=prompt.language,
            question_type=prompt.question_type.value,
            question=candidate.question,
            messages=(Message("system", prompt.system), Message("user", prompt.user), Message("assistant", text)),
            sources=tuple(h.chunk.citation for h in prompt.sources),
            source_ids=tuple(h.chunk.id for h in prompt.sources),
            gold=tuple(gold),
            citations_checked=len(verification.citations),
            origin=dict(candidate.origin),
        )
