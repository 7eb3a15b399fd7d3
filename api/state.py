"""What the service holds while it runs: the index manager, the answering stages per index version,
the job runner, and the limits taken from ``Settings``.

Requests pin one index version for their whole duration (``with state.pinned() as services``): a
switch to a new version swaps a reference, requests already running finish on the version they
started with, and the old version is closed when its last request is done.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ipqa.errors import IndexUnavailableError, InputError
from rag.versioned import CitationVersions

if TYPE_CHECKING:
    from api.jobs import JobRunner
    from indexes.manager import IndexManager
    from indexes.snapshot import Snapshot
    from ipqa.settings import Settings
    from rag.pipeline import AnswerPipeline
    from rag.protocols import Retriever

logger = logging.getLogger("ipqa.api")
KEEP_SERVICES = 2  # answering stages kept per index version: the current one and the one before


@dataclass(frozen=True)
class Limits:
    """The request limits (plain values from ``Settings``)."""

    max_question_chars: int
    max_upload_bytes: int
    max_upload_files: int
    upload_extensions: frozenset[str]
    default_k: int

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Limits":
        return cls(max_question_chars=settings.max_question_chars, max_upload_bytes=settings.max_upload_bytes,
                   max_upload_files=settings.max_upload_files,
                   upload_extensions=frozenset(e.lower() for e in settings.upload_extensions),
                   default_k=settings.top_k)

    def check_question(self, name: str, text: str) -> str:
        """The text stripped; a 422 problem (via InputError naming the field) when blank or too long."""
        text = text.strip()
        if not text:
            raise InputError(name, "must not be empty")
        if len(text) > self.max_question_chars:
            raise InputError(name, f"is {len(text)} characters long; the limit is {self.max_question_chars}")
        return text


@dataclass(frozen=True)
class Services:
    """The stages that answer requests over one index version."""

    snapshot: "Snapshot"
    retriever: "Retriever"
    answerer: "AnswerPipeline"
    # response-ready documents of this version by id (immutable within a version; filled lazily)
    documents: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # the citations of law versions not in force today name the version (rag.versioned)
    citation_versions: CitationVersions = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "citation_versions", CitationVersions(self.snapshot.store))

    @property
    def version(self) -> str:
        return self.snapshot.version


ServicesFactory = Callable[["Snapshot"], Services]


def configured_services(settings: "Settings") -> ServicesFactory:
    """The configured retriever and answerer, per snapshot (wired by :mod:`rag.compose`). The
    generator, the support judge (which may be large models) and the question-type classifier are
    created once here and shared by every version."""
    from rag.compose import build_answerer, build_generator, build_judge, build_retriever
    from rag.question_types import QuestionTypeClassifier

    generator = build_generator(settings)
    judge = build_judge(settings)
    classifier = QuestionTypeClassifier().fit()  # at start-up, not in the first /v1/ask

    def services(snapshot: "Snapshot") -> Services:
        retriever = build_retriever(settings, snapshot)
        answerer = build_answerer(settings, snapshot, retriever=retriever, generator=generator, judge=judge,
                                  classifier=classifier)
        return Services(snapshot=snapshot, retriever=retriever, answerer=answerer)

    return services


class AppState:
    def __init__(self, *, manager: "IndexManager", services_factory: ServicesFactory, limits: Limits,
                 jobs: "JobRunner", uploads_dir: Path, rebuild_sources: tuple[Path, ...],
                 embedder_name: str | None, generator_name: str) -> None:
        self.manager = manager
        self.limits = limits
        self.jobs = jobs
        self.uploads_dir = uploads_dir
        self.rebuild_sources = rebuild_sources
        self.embedder_name = embedder_name
        self.generator_name = generator_name
        self._services_factory = services_factory
        self._services: dict[str, Services] = {}
        self._services_lock = threading.Lock()

    # --- serving -------------------------------------------------------------------------------
    @contextmanager
    def pinned(self) -> Iterator[Services]:
        """The services of the current version, kept usable until the block ends."""
        with self.manager.acquire() as snapshot:
            yield self._services_for(snapshot)

    def _services_for(self, snapshot: "Snapshot") -> Services:
        services = self._services.get(snapshot.version)
        if services is not None and services.snapshot is snapshot:
            return services
        with self._services_lock:  # one construction per version, however many requests arrive
            services = self._services.get(snapshot.version)
            if services is None or services.snapshot is not snapshot:
                services = self._services_factory(snapshot)
                # Keep the previous version's too: requests pinned just before a switch still ask
                # for it, and rebuilding it for them would thrash. Older ones are dropped (requests
                # using them hold their own reference).
                recent = [v for v in self._services.values() if v.snapshot is not snapshot][-(KEEP_SERVICES - 1):]
                self._services = {v.version: v for v in recent} | {snapshot.version: services}
            return services

    @property
    def ready(self) -> bool:
        return self.manager.version is not None

    # --- switching versions --------------------------------------------------------------------
    def refresh(self) -> bool:
        """Serve the version ``current`` points at (a job of ours, or `ipqa index …` run beside the
        service, may have switched it); build its services before the first request needs them.
        True when the version changed. A version that cannot be opened leaves the old one served."""
        from ipqa.runtime import settle_heap

        changed = self.manager.reload()
        with self.pinned():
            pass
        if changed:
            settle_heap()  # the new version's objects out of the collector's way, the old one's collected
            logger.info("now serving index version %s", self.manager.version)
        return changed


class IndexWatcher:
    """Polls the index root's ``current`` pointer and switches to a new version when it moves."""

    def __init__(self, state: AppState, interval_s: float) -> None:
        self._state = state
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ipqa-index-watcher", daemon=True)

    def start(self) -> None:
        if self._interval_s > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                if self._state.manager.layout.current() != self._state.manager.version:
                    self._state.refresh()
            except IndexUnavailableError as exc:
                logger.warning("index version switch failed; still serving %s: %s", self._state.manager.version, exc)
            except Exception:  # the watcher must outlive any surprise
                logger.exception("index watcher failed")


def describe(state: AppState) -> dict[str, Any]:
    """Readiness facts (for /readyz)."""
    if not state.ready:
        return {"ready": False, "index_version": None}
    with state.pinned() as services:
        store = services.snapshot.store
        manifest = services.snapshot.manifest
        counts = manifest.get("counts") or {}
        return {"ready": True, "index_version": services.version,
                "documents": int(counts.get("documents", 0)) if counts else None,
                "chunks": int(counts.get("chunks", store.count_chunks())),
                "embedder": state.embedder_name, "generator": state.generator_name}
