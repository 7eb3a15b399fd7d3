"""`ipqa index …`: rebuild, add, remove, status, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

if TYPE_CHECKING:
    from indexes.build import BuildResult
    from ipqa.settings import Settings

# Test-only hook (tests/test_kill_rebuild.py): make the job sleep when it reaches this stage, so a
# test can SIGKILL it at a known point. Read here, at the edge, never by the build itself.
PAUSE_ENV = "IPQA_TEST_PAUSE_AT"


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ipqa` app."""
    index_app = typer.Typer(help="Build, update and inspect the versioned search index.", no_args_is_help=True)

    @index_app.command("rebuild")
    def rebuild(
        source: list[Path] = typer.Option(..., "--source", "-s", help="File or directory to ingest."),
        more: Optional[list[Path]] = typer.Argument(None, metavar="[PATH]...", show_default=False,
                                                    help="More sources: `--source A B C` works too."),
        embedder: Optional[str] = typer.Option(None, help="Embedder registry name or local model directory."),
        jobs: Optional[int] = typer.Option(None, min=1, help="Parallel ingestion processes."),
    ) -> None:
        """Build a new index version from scratch and switch to it once verified."""
        from indexes.build import BuildOptions, build_version, check_sources

        # click gives an option one value each time it is named; the extra values of
        # `--source A B C` arrive as arguments, so both together are the sources.
        source = [*source, *(more or [])]
        check_sources(source)  # before loading a model
        settings = _settings(embedder=embedder)
        options = BuildOptions.from_settings(settings, jobs=jobs)
        with _progress() as progress:
            result = build_version(settings.index_root, source, embedder=_embedder(settings), options=options,
                                   progress=progress)
        _report(result)

    @index_app.command("add")
    def add(paths: list[Path] = typer.Argument(..., help="Files or directories to add.")) -> None:
        """Make a new version = current + these documents (unchanged chunks are not re-embedded)."""
        from indexes.build import BuildOptions, add_documents, check_sources

        check_sources(paths)
        settings = _settings()
        with _progress() as progress:
            result = add_documents(settings.index_root, paths, embedder=_embedder(settings),
                                   options=BuildOptions.from_settings(settings), progress=progress)
        _report(result)

    @index_app.command("remove")
    def remove(document_ids: list[str] = typer.Argument(..., help="Document ids to remove.")) -> None:
        """Make a new version = current without these documents."""
        from indexes.build import BuildOptions, remove_documents

        settings = _settings()
        with _progress() as progress:
            result = remove_documents(settings.index_root, document_ids, embedder=_embedder(settings),
                                      options=BuildOptions.from_settings(settings), progress=progress)
        _report(result)

    @index_app.command("status")
    def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
        """Versions, the current one, and counts per kind and language."""
        info = index_status(_settings().index_root)
        if as_json:
            typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
            return
        _print_status(info)

    @index_app.command("verify")
    def verify(version: Optional[str] = typer.Argument(None, help="Version (default: current).")) -> None:
        """Open a version as a reader would (files, checksums, embedder) and run a probe query."""
        from indexes.build import verify_snapshot
        from indexes.snapshot import open_snapshot

        settings = _settings()
        snapshot = open_snapshot(settings.index_root, embedder=_embedder(settings), version=version)
        try:
            verify_snapshot(snapshot)
        finally:
            snapshot.close()
        typer.echo(f"index version {snapshot.version} is complete and answers queries")

    app.add_typer(index_app, name="index")


def index_status(index_root: Path) -> dict[str, Any]:
    """What `ipqa index status --json` prints (also useful to the API)."""
    from indexes.layout import IndexLayout
    from ipqa.errors import IndexUnavailableError

    layout = IndexLayout(Path(index_root))
    versions = []
    for version in layout.versions():
        try:
            manifest = layout.read_manifest(version)
        except IndexUnavailableError as exc:
            versions.append({"version": version, "error": str(exc)})
            continue
        versions.append({key: manifest.get(key) for key in
                         ("version", "built_at", "build", "base_version", "embedder", "dense", "counts",
                          "stage_seconds", "code_version")}
                        | {"file_errors": len(manifest.get("file_errors", []))})
    from indexes.locking import build_running

    return {"index_root": str(layout.root), "current": layout.current(), "versions": versions,
            "build_running": build_running(layout.lock_file),
            "partial_builds": [p.name for p in layout.partials()]}


def _settings(**overrides: Any) -> "Settings":
    from ipqa.settings import Settings

    settings = Settings()
    updates = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=updates) if updates else settings


def _embedder(settings: "Settings") -> Any:
    from indexes.embedder import configured_embedder

    return configured_embedder(settings)


class _RichProgress:
    """One rich progress bar per stage."""

    def __init__(self) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn)

        self._progress = Progress(TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), transient=False)
        self._task: Any = None

    def __enter__(self) -> "_RichProgress":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start(self, stage: str, total: int | None = None) -> None:
        self._task = self._progress.add_task(stage, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def finish(self, stage: str) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, total=task.completed if task.total is None else task.total,
                                  completed=task.total if task.total is not None else task.completed)


class _PauseAt:
    """Wraps a progress reporter; sleeps (forever, until killed) when the job starts ``stage``."""

    def __init__(self, inner: Any, stage: str) -> None:
        self._inner, self._stage = inner, stage

    def __enter__(self) -> "_PauseAt":
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)

    def start(self, stage: str, total: int | None = None) -> None:
        self._inner.start(stage, total)
        if stage == self._stage:
            import sys
            import time

            print(f"IPQA_TEST_PAUSED {stage}", file=sys.stderr, flush=True)
            time.sleep(3600)

    def advance(self, n: int = 1) -> None:
        self._inner.advance(n)

    def finish(self, stage: str) -> None:
        self._inner.finish(stage)


def _progress() -> Any:
    import os

    progress: Any = _RichProgress()
    pause_at = os.environ.get(PAUSE_ENV)
    return _PauseAt(progress, pause_at) if pause_at else progress


def _report(result: "BuildResult") -> None:
    counts = result.manifest["counts"]
    for copy in result.already_indexed:
        typer.echo(f"{copy.source_path}: already indexed as {copy.document_id} (from {copy.indexed_from})")
    if not result.changed:
        typer.echo(f"nothing to add or remove: index version {result.version} stays current "
                   f"({counts['documents']} documents, {counts['chunks']} chunks)")
    else:
        typer.echo(f"index version {result.version} is now current: {counts['documents']} documents, "
                   f"{counts['chunks']} chunks, {result.manifest['dense']['vectors']} vectors")
    typer.echo("time per stage: " + ", ".join(f"{k} {v:.1f}s" for k, v in result.stage_seconds.items()))
    for problem in result.errors:
        typer.secho(f"skipped {problem.path}: {problem.error}", fg=typer.colors.YELLOW, err=True)
    if result.errors:
        typer.secho(f"{len(result.errors)} file(s) could not be ingested (listed above)", fg=typer.colors.YELLOW,
                    err=True)
    if result.removed_partials:
        typer.echo("cleaned up interrupted build(s): " + ", ".join(result.removed_partials))
    if result.pruned:
        typer.echo("pruned old version(s): " + ", ".join(result.pruned))


def _print_status(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if info["build_running"]:
        console.print("a build is running")
    if info["partial_builds"]:
        what = "in progress" if info["build_running"] else "interrupted; the next build removes them"
        console.print(f"unfinished builds ({what}): " + ", ".join(info["partial_builds"]))
    if not info["versions"]:
        console.print(f"no index at {info['index_root']}: build one with `ipqa index rebuild --source PATH...`")
        return
    table = Table(title=f"index versions under {info['index_root']}")
    for column in ("", "version", "built", "build", "embedder", "documents", "chunks by kind",
                   "chunks by language", "vectors"):
        table.add_column(column)
    for v in info["versions"]:
        if "error" in v:
            table.add_row("", v["version"], "", "", "", "", v["error"], "", "")
            continue
        counts = v["counts"] or {}
        table.add_row("*" if v["version"] == info["current"] else "", v["version"], v["built_at"], v["build"],
                      (v["embedder"] or {}).get("name", ""), str(counts.get("documents", "")),
                      _fmt(counts.get("chunks_by_kind")), _fmt(counts.get("chunks_by_language")),
                      f"{(v['dense'] or {}).get('vectors', 0)} ({','.join((v['dense'] or {}).get('languages', []))})")
    console.print(table)
    console.print(f"current: {info['current'] or '(none)'}")


def _fmt(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{k} {n}" for k, n in (counts or {}).items())
