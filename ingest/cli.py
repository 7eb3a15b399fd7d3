"""`ipqa ingest`: parse files and report what came out and what failed (nothing is stored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ipqa` app."""

    @app.command("ingest")
    def ingest_command(
        paths: List[Path] = typer.Argument(..., help="Files or directories (recursed) to parse."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else."),
        jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                           help="Parser processes (default: IPQA_INGEST_JOBS)."),
    ) -> None:
        """Parse files into citable chunks and report counts per kind and per-file errors.

        Exits 0 when anything was read, even if some files failed (they are listed); 1 when nothing
        could be read at all.
        """
        from ingest.pipeline import ingest
        from ipqa.settings import Settings

        settings = Settings()
        result = ingest(paths, max_file_bytes=settings.max_file_bytes, jobs=jobs or settings.ingest_jobs)
        if as_json:
            typer.echo(json.dumps(summary(result), ensure_ascii=False))
        else:
            _print_report(result)
        if not result.documents:
            raise typer.Exit(code=1)


def summary(result) -> dict:
    """The JSON form of an IngestResult (what ``--json`` prints)."""
    return {
        "files": result.files,
        "documents": len(result.documents),
        "chunks": result.chunk_count,
        "by_kind": result.by_kind,
        "errors": [{"path": e.path, "error": e.error} for e in result.errors],
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
    }


def _print_report(result) -> None:
    from collections import Counter

    from rich.console import Console
    from rich.table import Table

    console = Console()
    chunks_by_kind: Counter[str] = Counter()
    for parsed in result.documents:
        chunks_by_kind[str(parsed.document.kind)] += len(parsed.chunks)
    console.print(f"Ingested {len(result.documents)} documents ({result.chunk_count} chunks) "
                  f"from {result.files} files.")
    table = Table()
    table.add_column("kind")
    table.add_column("documents", justify="right")
    table.add_column("chunks", justify="right")
    for kind, count in result.by_kind.items():
        table.add_row(kind, str(count), str(chunks_by_kind[kind]))
    table.add_row("total", str(len(result.documents)), str(result.chunk_count), style="bold")
    console.print(table)
    warnings = sum(len(parsed.warnings) for parsed in result.documents)
    if warnings:
        console.print(f"[yellow]{warnings} parser warning(s)[/yellow]")
    if result.skipped:
        # not errors: files that hold nothing to ingest by design (folder indexes)
        skipped = Table(title=f"{len(result.skipped)} file(s) skipped", title_style="dim")
        skipped.add_column("file", overflow="fold")
        skipped.add_column("reason", overflow="fold")
        for skip in result.skipped:
            skipped.add_row(skip.path, skip.reason)
        console.print(skipped)
    if result.errors:
        errors = Table(title=f"{len(result.errors)} file(s) with errors", title_style="red")
        errors.add_column("file", overflow="fold")
        errors.add_column("error", overflow="fold")
        for error in result.errors:
            errors.add_row(error.path, error.error)
        console.print(errors)
