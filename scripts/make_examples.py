"""Write docs/examples.md: ten real IP questions answered by the extractive generator over the current
index, each citation checked (it must resolve, and its quoted span must be verbatim in the cited chunk).

    python scripts/make_examples.py                      # current index under IPQA_DATA_DIR
    python scripts/make_examples.py --output /tmp/x.md --index-root var/index

Exits with status 1 when any citation fails its check (the problems are listed on stderr).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (question, question type or None to let ipqa detect it). Doctrine, conduct and case questions on
# Chinese and US law: the research and regulatory-review exemptions, eligibility, trademarks, remedies.
QUESTIONS: list[tuple[str, str | None]] = [
    ("专利法第十一条规定的专利权效力是什么？", "doctrine"),
    ("为科学研究和实验而使用他人的专利，是否构成侵犯专利权？", "conduct"),
    ("为提供行政审批所需要的信息而制造、使用专利药品，是否构成侵犯专利权？", "conduct"),
    ("专利侵权判定中的等同特征是指什么？", "doctrine"),
    ("原告起诉被告在同一种商品上使用与其注册商标近似的商标，法院认定侵权的依据是什么？", "case"),
    ("Is it infringement to use a patented drug in clinical trials to prepare an FDA submission?", "conduct"),
    ("What subject matter is eligible for a patent under 35 U.S.C. § 101?", "doctrine"),
    (
        "A competitor uses a mark confusingly similar to our registered trademark on the same goods. "
        "Is that trademark infringement?",
        "conduct",
    ),
    ("What is false designation of origin under the Lanham Act?", "doctrine"),
    (
        "The plaintiff proved patent infringement at trial; what damages and injunctions can the court award?",
        "case",
    ),
]


def check_answer(answer, store) -> list[str]:
    """Problems of an answer's citations: unresolved, not verified, a span not verbatim in its chunk,
    or a citation whose text does not resolve back to the chunk it names (what a reader, or
    ``ipqa eval answers``, does with it: ``ingest.citations.resolve``)."""
    from ingest.citations import resolve

    problems = []
    for c in answer.citations:
        where = f"{answer.question!r} [{c.number}] {c.citation}"
        if c.chunk_id is None:
            problems.append(f"{where}: does not resolve ({c.problem})")
            continue
        chunk = store.chunk(c.chunk_id)
        if chunk is None:
            problems.append(f"{where}: chunk {c.chunk_id} is not in the store")
        elif chunk.id not in {r.chunk.id for r in resolve(c.citation, store)}:
            problems.append(f"{where}: the citation does not resolve back to chunk {c.chunk_id}")
        elif not c.quoted_span or c.quoted_span not in chunk.text:
            problems.append(f"{where}: quoted span is not verbatim in the cited chunk")
        if not c.verified:
            problems.append(f"{where}: not verified ({c.problem})")
    if answer.abstained:
        problems.append(f"{answer.question!r}: abstained ({answer.abstain_reason})")
    return problems


def _cell(text: str, limit: int = 220) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render(answers: Sequence, *, version: str, chunks: int, command: str, reranker: str) -> str:
    lines = [
        "# Examples: questions answered with verified citations",
        "",
        f"Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `{command}` over index version "
        f"`{version}` ({chunks:,} chunks), with the **extractive** generator (no language model: it quotes the most relevant "
        "provisions verbatim and draws no conclusion). Every citation below resolved to a real chunk and its "
        "quoted span was checked to occur verbatim in that chunk.",
        "",
        f"Reranker: **{reranker}**, used only for Chinese questions outside IP law (it was trained on STARD "
        "lay questions, mostly civil law, and pulled 民法典 articles into IP questions); IP questions are "
        "ranked by the first stage (BM25, the Chinese retriever trained here, MiniLM for English) with the "
        "field-of-law domain prior. Articles a question cites explicitly are put first.",
        "",
    ]
    for i, answer in enumerate(answers, 1):
        lines += [
            f"## {i}. {answer.question}",
            "",
            f"Question type: **{answer.question_type.value}**"
            + (f" · abstained: {answer.abstain_reason}" if answer.abstained else ""),
            "",
            "```text",
            answer.text.rstrip(),
            "```",
            "",
            "| # | citation | verified | support | quoted span |",
            "|---|---|---|---|---|",
        ]
        for c in answer.citations:
            lines.append(
                f"| {c.number} | {_cell(c.citation, 80)} | {'yes' if c.verified else 'NO: ' + str(c.problem)}"
                f" | {c.support:.2f} | {_cell(c.quoted_span)} |"
            )
        lines += [
            "",
            "Evidence retrieved: "
            + "; ".join(f"[{n}] {h.chunk.citation}" for n, h in enumerate(answer.evidence, 1)),
            "",
        ]
    return "\n".join(lines)


def make_examples(index_root: Path | None, output: Path, questions=QUESTIONS) -> list[str]:
    """Answer ``questions`` over the index, write ``output``, return the problems found."""
    from ipqa.settings import Settings
    from rag.compose import build_answerer, open_index

    settings = Settings().model_copy(update={"generator": "extractive"})
    with open_index(settings, index_root=index_root) as snapshot:
        answerer = build_answerer(settings, snapshot)
        reranker = getattr(getattr(answerer.retriever, "reranker", None), "name", None) or "none"
        answers = [answerer.answer(q, question_type=t) for q, t in questions]
        problems = [p for a in answers for p in check_answer(a, snapshot.store)]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(
            render(
                answers,
                version=snapshot.version,
                chunks=snapshot.store.count_chunks(),
                command="python scripts/make_examples.py",
                reranker=reranker,
            ),
            encoding="utf-8",
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "examples.md"
    )
    parser.add_argument(
        "--index-root",
        type=Path,
        default=None,
        help="The index root (default: Settings().index_root, i.e. $IPQA_DATA_DIR/index).",
    )
    args = parser.parse_args(argv)
    problems = make_examples(args.index_root, args.output)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"wrote {args.output} ({len(QUESTIONS)} questions, {len(problems)} problems)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
