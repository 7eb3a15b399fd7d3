"""The index jobs the API runs: what each does, with the indexes package's build functions (through
:class:`indexes.manager.IndexManager`, which switches the served version when a job finishes).

File errors are shown to clients by the name they know (an upload's original name, a corpus path
relative to its configured root), never by a server path.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

from api.errors import ProblemError
from api.jobs import JobOutcome, JobProgress, JobWork
from api.redact import without_server_paths
from api.state import AppState
from api.uploads import (accepted_uploads, display_name, is_pending, mark_upload, pending_uploads,
                         uploads_copying)


def check_no_build_running(state: AppState) -> None:
    """409 when any process (another worker, `ipqa index …` beside the service) holds the index
    root's build lock: the job would only fail. The job itself takes the lock for real."""
    import fcntl
    import os

    lock_file = state.manager.layout.lock_file
    if not lock_file.exists():
        return
    fd = os.open(lock_file, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ProblemError(409, "an index build is running (in another worker or process); try again when it "
                                "has finished", slug="job-running", title="Another index job is running") from None
    finally:
        os.close(fd)  # closing releases the lock if we got it


def rebuild_sources(state: AppState, requested: Sequence[str] | None) -> list[Path]:
    """The paths a rebuild ingests. Requested paths must lie inside a configured rebuild source or
    the uploads directory (a client may not make the service read arbitrary server files)."""
    roots = list(state.rebuild_sources)
    uploads = _uploads_source(state.uploads_dir)
    if not requested:
        configured = [p for p in roots if p.exists()] + uploads
        if not configured:
            raise ProblemError(409, "no rebuild sources are configured (IPQA_REBUILD_SOURCES) and nothing has "
                                    "been uploaded", slug="no-sources", title="Nothing to rebuild from")
        return configured
    allowed = [r.resolve() for r in roots] + [state.uploads_dir.resolve()]
    sources: list[Path] = []
    for raw in requested:
        if not raw or "\x00" in raw:
            raise ProblemError(400, "a source path is empty or contains NUL", slug="bad-source", title="Bad source")
        found = _inside(raw, allowed)
        if found is None:  # 404 whether it is missing or outside: which one is not the client's business
            raise ProblemError(404, f"source {raw[:200]!r} is not an existing path inside a configured rebuild "
                                    "source or the uploads directory", slug="no-such-source", title="No such source")
        sources.append(found)
    return sources + [u for u in uploads if u not in sources]


def _inside(raw: str, roots: list[Path]) -> Path | None:
    candidate = Path(raw)
    for root in roots:
        path = (candidate if candidate.is_absolute() else root / candidate).resolve()
        if (path == root or root in path.parents) and path.exists():
            return path
    return None


def _uploads_source(uploads_dir: Path) -> list[Path]:
    """The uploaded files a rebuild ingests: each one its add job accepted, never one still pending
    (its job is running, or was interrupted and the file was never accepted)."""
    return accepted_uploads(uploads_dir)


def rebuild_job(state: AppState, sources: list[Path]) -> JobWork:
    def work(progress: JobProgress) -> JobOutcome:
        result = state.manager.build_version(sources, progress=progress)
        state.refresh()
        return _outcome(state, result, sources)

    return work


def add_job(state: AppState, paths: list[Path]) -> JobWork:
    def work(progress: JobProgress) -> JobOutcome:
        try:
            result = state.manager.add(paths, progress=progress)
        except BaseException:
            # a failed job must not leave its new files to be ingested by every later rebuild (a
            # re-upload of an accepted file reuses it: that one stays)
            _delete_uploads(state, [path for path in paths if is_pending(path)])
            raise
        state.refresh()
        outcome = _outcome(state, result, [state.uploads_dir])
        copies: dict[str, list[str]] = {}
        for copy in result.already_indexed:
            copies.setdefault(str(Path(copy.source_path).resolve()), []).append(copy.document_id)
        with state.pinned() as services:
            store = services.snapshot.store
            added = [(path, _ids_from(store, path), copies.get(str(path.resolve()), [])) for path in paths]
        outcome.result["documents_added"] = [_added_entry(path, ids, same, state) for path, ids, same in added]
        for path, ids, same in added:
            if same:  # kept: if the indexed copy came from outside the rebuild sources, a rebuild needs it
                mark_upload(path, state="indexed", already_indexed_as=same)
            elif ids:
                mark_upload(path, state="indexed")
        # a file nothing could be ingested from is reported (above) and not kept: every later
        # rebuild would only report it again
        _delete_uploads(state, [path for path, ids, same in added if not ids and not same])
        return outcome

    return work


def _added_entry(path: Path, ids: list[str], same: list[str], state: AppState) -> dict[str, Any]:
    entry: dict[str, Any] = {"file": display_name(path, state.uploads_dir),
                             "document_ids": ids + [i for i in same if i not in ids]}
    if same:
        entry["already_indexed_as"] = same
        entry["note"] = f"already indexed as {', '.join(same)}: the same content is in the index"
    return entry


def remove_job(state: AppState, document_ids: list[str], source_paths: list[str]) -> JobWork:
    def work(progress: JobProgress) -> JobOutcome:
        result = state.manager.remove(document_ids, progress=progress)
        state.refresh()
        _forget_uploads(state, source_paths, document_ids)
        return _outcome(state, result, [state.uploads_dir])

    return work


def remove_upload_job(state: AppState, upload: Path) -> JobWork:
    """Delete an upload named by its SHA-256, with the documents indexed from it (if any): the way
    to remove a file that was never indexed (it has no document id)."""
    def work(progress: JobProgress) -> JobOutcome:
        ids: list[str] = []
        if state.ready:
            with state.pinned() as services:
                ids = _ids_from(services.snapshot.store, upload)
        result: dict[str, Any] = {"upload_removed": display_name(upload, state.uploads_dir), "removed_documents": ids}
        if ids:
            build = state.manager.remove(ids, progress=progress)
            state.refresh()
            result.update(_outcome(state, build, [state.uploads_dir]).result)
        _delete_uploads(state, [upload])
        return JobOutcome(result=result)

    return work


# Another worker may have stored an upload a moment ago and not yet started (and locked) its job.
PENDING_GRACE_S = 60.0


def sweep_pending_uploads(state: AppState) -> list[Path]:
    """At startup: delete the uploads whose add job never finished (the service was stopped or
    killed while it ran), so that no later rebuild ingests a file its client was never told was
    accepted. Skipped while any process holds the build lock: its job may be adding them."""
    try:
        check_no_build_running(state)
    except ProblemError:
        return []
    pending = pending_uploads(state.uploads_dir, older_than_s=PENDING_GRACE_S)
    _delete_uploads(state, pending)
    return pending


def _ids_from(store: Any, path: Path) -> list[str]:
    of_source = getattr(store, "document_ids_from_source", None)
    return list(of_source(str(path))) if of_source is not None else []


def _forget_uploads(state: AppState, source_paths: list[str], document_ids: Sequence[str] = ()) -> None:
    """Delete an uploaded file once no document of the served version comes from it, so a later
    rebuild does not bring the removed document back; and the uploads kept as copies of a removed
    document (already indexed from elsewhere)."""
    with state.pinned() as services:
        unused = [Path(source) for source in source_paths if not _ids_from(services.snapshot.store, Path(source))]
    _delete_uploads(state, unused + uploads_copying(state.uploads_dir, document_ids))


def _delete_uploads(state: AppState, paths: Sequence[Path]) -> None:
    uploads = state.uploads_dir.resolve()
    for path in paths:
        path = path.resolve()
        if path.parent.parent == uploads:  # only ever <uploads>/<hash>/<name>
            shutil.rmtree(path.parent, ignore_errors=True)


def _outcome(state: AppState, result: Any, roots: Sequence[Path]) -> JobOutcome:
    manifest = result.manifest
    errors = [{"path": _shown(e.path, state, roots), "error": _scrub(e.error, e.path, state, roots)}
              for e in result.errors]
    return JobOutcome(result={"version": result.version, "counts": manifest.get("counts", {}),
                              "vectors": (manifest.get("dense") or {}).get("vectors", 0),
                              "changes": manifest.get("changes", {}),
                              "stage_seconds": dict(result.stage_seconds)},
                      errors=errors)


def _shown(path: str, state: AppState, roots: Sequence[Path]) -> str:
    resolved = Path(path).resolve()
    if state.uploads_dir.resolve() in resolved.parents:
        return display_name(resolved, state.uploads_dir)
    for root in [*state.rebuild_sources, *roots]:
        root = root.resolve()
        if resolved == root or root in resolved.parents:
            return str(Path(root.name) / resolved.relative_to(root)) if resolved != root else root.name
    return resolved.name


def _scrub(error: str, path: str, state: AppState, roots: Sequence[Path]) -> str:
    # the file by the name the client knows; any other server path (a cache, a temporary file) hidden
    return without_server_paths(error.replace(path, _shown(path, state, roots)))
