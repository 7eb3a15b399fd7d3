"""Drafting, from USPTO grants: an independent claim from the abstract and the summary; a dependent
claim from its parent claim and the description paragraphs that disclose the added feature; a figure
description from the brief description of the drawings and the paragraphs that refer to the figure
(the text side of PatentLMM). A claim is drafted on one line, so the verifier judges it whole
against the sources it cites. Independent claims also state 35 U.S.C. § 112(b), quoted, when the
index holds it.
"""

from __future__ import annotations

import re
from typing import Iterator

from indexes.protocols import SearchFilters
from ipqa.domain import Chunk, Document, QuestionType
from rag.judges import LexicalJudge
from rag.sentences import sentence_spans
from sft.candidates import Candidate, gold_mark
from sft.context import BuildContext
from sft.corpus import chunks_of, documents

PATENTS = SearchFilters(kinds=frozenset({"patent"}))
MAX_INDEPENDENT = 2
MAX_DEPENDENT = 8
MAX_FIGURES = 8
_LABEL = re.compile(r"^\[\d{4,5}\]$")


def candidates(context: BuildContext) -> Iterator[Candidate]:
    judge = LexicalJudge()
    definiteness = _definiteness(context.store)
    produced = 0
    for document in documents(context.store, PATENTS):
        for candidate in patent_candidates(chunks_of(context.store, document), document, judge, definiteness):
            yield candidate
            produced += 1
            if produced >= context.per_direction:
                return


def _definiteness(store) -> tuple[Chunk, str] | None:
    """35 U.S.C. § 112 and its sentence requiring claims that particularly point out the invention."""
    from sft.corpus import resolve_gold

    chunk = resolve_gold("35 U.S.C. § 112", store)
    if chunk is None:
        return None
    for start, end in sentence_spans(chunk.text):
        if "particularly pointing out" in chunk.text[start:end]:
            sentence = chunk.text[start:end]
            return chunk, re.sub(r"^\(b\)\s*Conclusion\.—\s*", "", sentence)
    return None


def one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()


def patent_candidates(chunks: list[Chunk], document: Document, judge: LexicalJudge,
                      definiteness: tuple[Chunk, str] | None) -> Iterator[Candidate]:
    patent = str(document.metadata.get("patent_id") or document.title)
    claims = {int(c.metadata["claim_number"]): c for c in chunks
              if c.unit == "claim" and "claim_number" in c.metadata}
    abstract = next((c for c in chunks if c.unit == "abstract"), None)
    description = [c for c in chunks if c.unit == "paragraphs"
                   and not c.metadata.get("brief_description_of_drawings")]
    summary = next((c for c in description if "SUMMARY" in str(c.metadata.get("heading") or "").upper()),
                   None)
    origin = {"patent": patent}
    # independent claims: abstract + summary; the claims themselves stay out of the sources
    claim_ids = frozenset(c.id for c in claims.values())
    independent = [c for n, c in sorted(claims.items()) if not c.metadata.get("depends_on")]
    if abstract is not None:
        basis = [abstract] + ([summary] if summary is not None else [])
        for claim in independent[:MAX_INDEPENDENT]:
            marks = "".join(gold_mark(i) for i in range(len(basis)))
            gold = list(basis)
            answer = f"1. Draft:\n{one_line(claim.text)} {marks}"
            if definiteness is not None:
                gold.append(definiteness[0])
                answer += (f"\n2. Requirements it must satisfy: under {definiteness[0].citation}(b), "
                           f"“{definiteness[1]}” {gold_mark(len(gold) - 1)}")
            question = (f"Draft an independent claim for the invention of {patent} (“{document.title}”), "
                        f"from its abstract and summary.")
            yield Candidate("drafting", question, QuestionType.DRAFTING, tuple(gold), answer,
                            {**origin, "kind": "independent_claim", "claim": claim.citation}, language="en",
                            distractor_filters=PATENTS, exclude=claim_ids | {document.id})
    # dependent claims: the parent claim + the description group that discloses the added feature
    dependent = [c for n, c in sorted(claims.items()) if c.metadata.get("depends_on")]
    for claim in dependent[:MAX_DEPENDENT]:
        parent = claims.get(int(claim.metadata["depends_on"][0]))
        if parent is None or not description:
            continue
        wanted = judge.content_tokens(claim.text)
        support = max(description, key=lambda c: len(judge.content_tokens(c.text) & wanted))
        question = (f"Draft a dependent claim to claim {parent.metadata['claim_number']} of {patent} that adds "
                    f"the feature disclosed in {support.citation.split(', ', 1)[-1]}.")
        answer = f"1. Draft:\n{one_line(claim.text)} {gold_mark(0)}{gold_mark(1)}"
        yield Candidate("drafting", question, QuestionType.DRAFTING, (parent, support), answer,
                        {**origin, "kind": "dependent_claim", "claim": claim.citation}, language="en",
                        distractor_filters=SearchFilters(document_ids=frozenset({document.id})),
                        exclude=frozenset({claim.id}))
    # figure descriptions
    for figure in [c for c in chunks if c.unit == "figure"][:MAX_FIGURES]:
        answer = figure_answer(figure)
        if answer is None:
            continue
        label = figure.metadata.get("figure", "")
        question = (f"Write the description of FIG. {label} of {patent} (“{document.title}”): what the figure "
                    f"shows and what the description says about it.")
        yield Candidate("drafting", question, QuestionType.DRAFTING, (figure,), answer,
                        {**origin, "kind": "figure", "figure": figure.citation}, language="en",
                        distractor_filters=SearchFilters(document_ids=frozenset({document.id})),
                        exclude=frozenset())


def figure_answer(figure: Chunk) -> str | None:
    """The figure's brief description, quoted, then the first sentence of each referring paragraph."""
    lines = []
    for part in figure.parts:
        if not _LABEL.match(part.label):
            continue
        text = figure.text[part.start : part.end]
        spans = sentence_spans(text)
        if not spans:
            continue
        sentence = text[spans[0][0] : spans[0][1]].rstrip(";, ")
        if len(sentence) < 20 or "\n" in sentence:
            continue
        lines.append(f"1. Draft: “{sentence}” {gold_mark(0)}" if not lines else f"- “{sentence}” {gold_mark(0)}")
    return "\n".join(lines) if lines else None
