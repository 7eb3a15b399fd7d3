"""`ipqa search` and `ipqa ask`: query the current index from the command line.

Both open the current index version (``Settings.index_root``), use the configured hybrid retriever,
and close the index when done. Heavy imports happen inside the commands so ``ipqa --help`` is fast.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import typer

from indexes.protocols import SearchFilters
from ipqa.in_force import parse_as_of
from ipqa.errors import InputError

if TYPE_CHECKING:
    from indexes.protocols import ChunkStore, IndexSnapshot
    from ipqa.domain import Answer, Hit
    from ipqa.settings import Settings

# --filter KEY=VALUE[,VALUE…]: the key names the SearchFilters field it sets.
_SET_FILTERS = {
    "jurisdiction": "jurisdictions",
    "kind": "kinds",
    "document": "document_ids",
    "title": "titles",
    "language": "languages",
}
_DATE_FILTERS = {"from": "version_from", "to": "version_to"}
FILTER_HELP = (
    "KEY=VALUE, repeatable; keys: "
    + ", ".join([*_SET_FILTERS, *_DATE_FILTERS])
    + " (e.g. --filter jurisdiction=CN --filter kind=statute --filter from=2020-01-01)"
)

AS_OF_HELP = ("YYYY-MM-DD: of each law only the version in force on that date is searched and cited "
              "(default: today)")


def with_as_of(filters: SearchFilters | None, as_of: str | None) -> SearchFilters | None:
    """``filters`` with the checked ``--as-of`` date (an unparseable or future date is an InputError)."""
    if as_of is None:
        return filters
    return replace(filters or SearchFilters(), as_of=parse_as_of(as_of, name="--as-of"))


def parse_filters(items: list[str] | None) -> SearchFilters | None:
    """``["jurisdiction=CN", "kind=statute,patent"]`` -> SearchFilters; None when no item is given."""
    if not items:
        return None
    sets: dict[str, set[str]] = {}
    dates: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise InputError("--filter", f"{item!r} is not KEY=VALUE")
        if key in _SET_FILTERS:
            values = {v.strip() for v in value.split(",") if v.strip()}
            if key == "jurisdiction":
                values = {v.upper() if v.lower() in ("cn", "us") else v for v in values}
            sets.setdefault(_SET_FILTERS[key], set()).update(values)
        elif key in _DATE_FILTERS:
            dates[_DATE_FILTERS[key]] = value
        else:
            valid = ", ".join([*_SET_FILTERS, *_DATE_FILTERS])
            raise InputError("--filter", f"unknown key {key!r}; valid keys: {valid}")
    return SearchFilters(**{k: frozenset(v) for k, v in sets.items()}, **dates)


# --- plain data for --json -------------------------------------------------------------------------


def hit_to_dict(hit: "Hit", store: "ChunkStore | None" = None) -> dict[str, Any]:
    chunk = hit.chunk
    document = store.document(chunk.document_id) if store is not None else None
    return {
        "rank": hit.rank,
        "score": hit.score,
        "source": hit.source,
        "component_scores": dict(hit.component_scores),
        "expanded_from": hit.expanded_from,
        "citation": chunk.citation,
        "chunk_id": chunk.id,
        "document_id": chunk.document_id,
        "title": document.title if document else None,
        "version": document.version if document else None,
        "kind": str(document.kind) if document else None,
        "jurisdiction": str(document.jurisdiction) if document else None,
        "unit": chunk.unit,
        "language": str(chunk.language),
        "text": chunk.text,
    }


def answer_to_dict(answer: "Answer", store: "ChunkStore | None" = None) -> dict[str, Any]:
    return {
        "question": answer.question,
        "question_type": answer.question_type.value,
        "text": answer.text,
        "abstained": answer.abstained,
        "abstain_reason": answer.abstain_reason,
        "generator": answer.generator,
        "citations": [
            {
                "number": c.number,
                "citation": c.citation,
                "quoted_span": c.quoted_span,
                "chunk_id": c.chunk_id,
                "document_id": c.document_id,
                "verified": c.verified,
                "support": c.support,
                "problem": c.problem,
                "current": None if c.current is None else list(c.current),
                "note": c.note,
            }
            for c in answer.citations
        ],
        "statements": [
            {
                "text": s.text,
                "citation_numbers": list(s.citation_numbers),
                "supported": s.supported,
                "support": s.support,
            }
            for s in answer.statements
        ],
        "evidence": [hit_to_dict(h, store) for h in answer.evidence],
        "timings": dict(answer.timings),
    }


# --- opening the index -----------------------------------------------------------------------------


@contextmanager
def open_current(settings: "Settings", *, index_root: Path | None = None,
                 answering: bool = False) -> Iterator["IndexSnapshot"]:
    """The current index version under ``index_root`` (default ``settings.index_root``), closed on
    exit, for one command: the embedder's model is loaded only if a query needs it (a Chinese query
    never does with the English default), and torch gets ``settings.torch_threads`` when it loads."""
    from ipqa.runtime import configure_faiss, configure_torch
    from rag.compose import models_use_torch, open_index

    if models_use_torch(settings, answering=answering):  # a cross-encoder, a local model: before they load
        configure_torch(settings.torch_threads)
    configure_faiss(settings.torch_threads)  # the dense search (FAISS is loaded with the index anyway)
    with open_index(settings, index_root=index_root, one_shot=True) as snapshot:
        yield snapshot


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def print_answer_details(answer: "Answer", store: "ChunkStore") -> None:
    """Citations (with their checks), unsupported statements and the evidence, after the answer text."""
    if answer.abstained:
        typer.secho(f"\nABSTAINED: {answer.abstain_reason}", fg=typer.colors.YELLOW)
    typer.secho("\nCitations:", bold=True)
    if not answer.citations:
        typer.echo("  (none)")
    for c in answer.citations:
        mark = (
            typer.style("verified", fg=typer.colors.GREEN)
            if c.verified
            else typer.style(f"NOT VERIFIED ({c.problem})", fg=typer.colors.RED)
        )
        typer.echo(f"  [{c.number}] {c.citation} — {mark}, support {c.support:.2f}")
        if c.quoted_span:
            typer.echo(f"      「{_short(c.quoted_span, 200)}」")
        if c.note:
            typer.secho(f"      {c.note}", fg=typer.colors.YELLOW)
    unsupported = [s for s in answer.statements if not s.supported]
    if unsupported:
        typer.secho("\nUnsupported statements:", bold=True)
        for s in unsupported:
            typer.secho(f"  - {_short(s.text)} (support {s.support:.2f})", fg=typer.colors.RED)
    typer.secho("\nEvidence:", bold=True)
    for n, hit in enumerate(answer.evidence, 1):
        typer.echo(f"  [{n}] {hit.score:.4f}  {hit.chunk.citation}  {_short(hit.chunk.text, 100)}")
    timings = ", ".join(f"{k[:-3]} {v:.0f} ms" for k, v in answer.timings.items())
    typer.secho(f"\n{answer.generator} · {answer.question_type.value} · {timings}", dim=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ipqa` app."""

    @app.command("search")
    def search(
        query: str = typer.Argument(..., help="What to search for (Chinese or English)."),
        k: int = typer.Option(10, "--k", "-k", min=1, max=200, help="How many hits."),
        filters: Optional[list[str]] = typer.Option(None, "--filter", "-f", help=FILTER_HELP),
        as_of: Optional[str] = typer.Option(None, "--as-of", help=AS_OF_HELP),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Search the current index: hits with their scores and citations."""
        from ipqa.settings import Settings
        from rag.compose import build_retriever

        if not query.strip():
            raise InputError("query", "must not be empty")
        search_filters = with_as_of(parse_filters(filters), as_of)
        settings = Settings()
        with open_current(settings) as snapshot:
            found = build_retriever(settings, snapshot, one_shot=True).retrieve(query, k, search_filters)
            if as_json:
                _echo_json([hit_to_dict(h, snapshot.store) for h in found])
                return
            if not found:
                typer.echo("no hits")
            for i, hit in enumerate(found, 1):
                document = snapshot.store.document(hit.chunk.document_id)
                version = f" ({document.version})" if document and document.version else ""
                components = " ".join(f"{name}={value:.3f}" for name, value in hit.component_scores.items())
                typer.secho(f"{i:>2}. {hit.score:.4f}  {hit.chunk.citation}{version}", bold=True)
                typer.echo(
                    f"    {hit.source}{' ' + components if components else ''}"
                    f"{' via ' + hit.expanded_from if hit.expanded_from else ''}"
                )
                typer.echo(f"    {_short(hit.chunk.text)}")

    @app.command("ask")
    def ask(
        question: str = typer.Argument(..., help="The question (Chinese or English)."),
        question_type: Optional[str] = typer.Option(
            None, "--type", "-t", help="doctrine | conduct | case | drafting (default: detected)."
        ),
        k: Optional[int] = typer.Option(
            None, "--k", "-k", min=1, max=200, help="Evidence chunks (default: top_k)."
        ),
        filters: Optional[list[str]] = typer.Option(None, "--filter", "-f", help=FILTER_HELP),
        as_of: Optional[str] = typer.Option(None, "--as-of", help=AS_OF_HELP),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output (no streaming)."),
    ) -> None:
        """Answer a question with verified citations (streams the answer as it is generated)."""
        from ipqa.domain import Answer
        from ipqa.settings import Settings
        from rag.compose import build_answerer, build_retriever

        search_filters = with_as_of(parse_filters(filters), as_of)
        settings = Settings()
        with open_current(settings, answering=True) as snapshot:
            answerer = build_answerer(settings, snapshot, retriever=build_retriever(settings, snapshot, one_shot=True))
            if as_json:
                answer = answerer.answer(question, question_type=question_type, filters=search_filters, k=k)
                _echo_json(answer_to_dict(answer, snapshot.store))
                return
            answer = None
            for item in answerer.stream_answer(
                question, question_type=question_type, filters=search_filters, k=k
            ):
                if isinstance(item, Answer):
                    answer = item
                else:
                    sys.stdout.write(item)
                    sys.stdout.flush()
            assert answer is not None
            print_answer_details(answer, snapshot.store)
