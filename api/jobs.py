"""Index jobs (rebuild, add uploaded documents, remove documents) run one at a time in a background
thread; their state, progress and per-file errors are recorded as JSON under ``jobs_dir``.

A second job while one runs is refused (409). A record is written atomically (temporary file +
``os.replace``) at every stage change and at most every half second while a stage advances, so
``GET /v1/jobs/{id}`` never reads a torn file, even from another worker process. Records of jobs
that were running when the service stopped are marked ``interrupted`` at the next start (the index
build itself leaves ``current`` untouched when it dies).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from api.errors import ProblemError
from api.redact import client_message
from ipqa.errors import IpqaError

logger = logging.getLogger("ipqa.api")

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
PERSIST_EVERY_S = 0.5


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class JobOutcome:
    result: dict[str, Any]
    errors: list[dict[str, str]] = field(default_factory=list)  # per-file problems: {"path", "error"}


JobWork = Callable[["JobProgress"], JobOutcome]


class JobProgress:
    """Implements ``indexes.build.BuildProgress``: records the stage and how far it has got."""

    def __init__(self, runner: "JobRunner", job_id: str) -> None:
        self._runner = runner
        self._job_id = job_id
        self._last_persist = 0.0

    def start(self, stage: str, total: int | None = None) -> None:
        self._update({"stage": stage, "done": 0, "total": total}, force=True, stage=stage)

    def advance(self, n: int = 1) -> None:
        def bump(progress: dict[str, Any]) -> None:
            progress["done"] = int(progress.get("done") or 0) + n

        self._runner._mutate(self._job_id, progress_update=bump, persist=self._due())

    def finish(self, stage: str) -> None:
        def done(progress: dict[str, Any]) -> None:
            finished = progress.setdefault("finished_stages", [])
            if stage not in finished:
                finished.append(stage)
            if progress.get("total") is not None:
                progress["done"] = progress["total"]

        self._runner._mutate(self._job_id, progress_update=done, persist=True)

    def _due(self) -> bool:
        now = time.monotonic()
        if now - self._last_persist >= PERSIST_EVERY_S:
            self._last_persist = now
            return True
        return False

    def _update(self, values: dict[str, Any], *, force: bool, stage: str) -> None:
        def set_values(progress: dict[str, Any]) -> None:
            progress.update(values)

        self._runner._mutate(self._job_id, progress_update=set_values, persist=force, stage=stage)


_STATES = ("queued", "running", "succeeded", "failed", "interrupted")


def _complete(record: dict[str, Any], job_id: str) -> dict[str, Any]:
    """A record read from disk (perhaps written by an older version) with every field present."""
    state = record.get("state") if record.get("state") in _STATES else "interrupted"
    return {"id": job_id, "kind": str(record.get("kind") or "unknown"), "state": state,
            "created_at": str(record.get("created_at") or ""), "started_at": record.get("started_at"),
            "finished_at": record.get("finished_at"), "stage": record.get("stage"),
            "progress": record.get("progress") if isinstance(record.get("progress"), dict) else {},
            "params": record.get("params") if isinstance(record.get("params"), dict) else {},
            "errors": [e for e in record.get("errors") or [] if isinstance(e, dict)],
            "error": record.get("error"), "result": record.get("result") if isinstance(record.get("result"), dict) else None}


class JobRunner:
    def __init__(self, jobs_dir: Path) -> None:
        self.jobs_dir = jobs_dir
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}
        self._active: str | None = None
        self._thread: threading.Thread | None = None

    def recover(self) -> None:
        """Mark the records of jobs a previous process left running as interrupted."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        for path in self.jobs_dir.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("state") in ("queued", "running"):
                record.update(state="interrupted", finished_at=_now(),
                              error="the service stopped while this job ran; the index was left unchanged")
                self._write(record)

    # --- submitting ----------------------------------------------------------------------------
    def submit(self, kind: str, params: dict[str, Any], work: JobWork) -> dict[str, Any]:
        """Start ``work`` in the background; 409 problem when another job is running."""
        job_id = uuid.uuid4().hex
        record = {"id": job_id, "kind": kind, "state": "queued", "created_at": _now(), "started_at": None,
                  "finished_at": None, "stage": None, "progress": {}, "params": params, "errors": [],
                  "error": None, "result": None}
        with self._lock:
            if self._active is not None:
                raise ProblemError(409, f"index job {self._active} is still running; one index job runs at a "
                                        "time, try again when it has finished", slug="job-running",
                                   title="Another index job is running", running_job=self._active)
            self._active = job_id
            self._records[job_id] = record
            self._write(record)
            thread = threading.Thread(target=self._run, args=(job_id, work), name=f"ipqa-job-{kind}",
                                      daemon=True)
            self._thread = thread
        thread.start()
        return self.get(job_id) or record

    def _run(self, job_id: str, work: JobWork) -> None:
        self._mutate(job_id, state="running", started_at=_now(), persist=True)
        try:
            outcome = work(JobProgress(self, job_id))
            self._mutate(job_id, state="succeeded", result=outcome.result, errors=outcome.errors,
                         finished_at=_now(), persist=True)
        except IpqaError as exc:  # messages written for users: they may see them, without server paths
            error = client_message(str(exc), logger, f"index job {job_id} failed")
            self._mutate(job_id, state="failed", error=error, finished_at=_now(), persist=True)
        except BaseException:
            logger.exception("index job %s failed", job_id)
            self._mutate(job_id, state="failed", error="the job failed unexpectedly; see the server log",
                         finished_at=_now(), persist=True)
        finally:
            with self._lock:
                if self._active == job_id:
                    self._active = None

    # --- reading -------------------------------------------------------------------------------
    def get(self, job_id: str) -> dict[str, Any] | None:
        if not JOB_ID.match(job_id):  # also keeps a crafted id from naming another file
            return None
        with self._lock:
            record = self._records.get(job_id)
            if record is not None:
                return json.loads(json.dumps(record))
        path = self.jobs_dir / f"{job_id}.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return _complete(record, job_id) if isinstance(record, dict) else None

    @property
    def active(self) -> str | None:
        return self._active

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running job (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # --- internals -----------------------------------------------------------------------------
    def _mutate(self, job_id: str, *, persist: bool, progress_update: Callable[[dict[str, Any]], None] | None = None,
                **values: Any) -> None:
        with self._lock:
            record = self._records[job_id]
            record.update(values)
            if progress_update is not None:
                progress_update(record["progress"])
            if persist:
                self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        path = self.jobs_dir / f"{record['id']}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
