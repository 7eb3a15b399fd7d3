"""The bulk rebuild job and the incremental add/remove jobs: each makes a NEW index version.

Every job runs under the index root's build lock, writes into ``versions/<v>.partial/``, verifies
the result by opening it exactly as a reader would, renames it to ``versions/<v>/`` and only then
switches ``current``. A job that dies at any point leaves ``current`` untouched; its ``.partial``
directory is removed by the next job. Embeddings are cached by (model, content hash) under
``<root>/cache/`` and written batch by batch, so a killed rebuild resumes its embedding work.

Incremental jobs copy the previous version's store, keep every unchanged chunk's int id, and derive
the dense index from the previous one (remove + add): only new chunks are embedded. BM25 is derived
from the previous version's saved term counts (rows dropped and added, weights recomputed because
IDF and the average length change with every document): only new chunks are tokenised, and the
result is the same as a rebuild over all chunks, which is what happens when the base has no counts.

Stages, in order: ``parse``, ``tokenise`` (BM25), ``embed``, ``build`` (dense index), ``verify``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from indexes.bm25 import Bm25Index
from indexes.dense import DenseIndex
from indexes.embedding_cache import EmbeddingCache, TokenCache
from indexes.layout import (BM25_DIR, DENSE_DIR, FORMAT_VERSION, READERS_LOCK, STORE_FILE, IndexLayout,
                            check_embedder, describe_files, fsync_tree, new_version_name, write_manifest)
from indexes.locking import BuildLock
from indexes.routed_embedder import document_vectors_name, part_for
from indexes.snapshot import Snapshot
from indexes.store import SqliteChunkStore
from ingest import pipeline
from ipqa import __version__
from ipqa.domain import ParsedDocument
from ipqa.errors import IndexUnavailableError, InputError
from ipqa.ids import content_hash
from ipqa.settings import REPO_ROOT

if TYPE_CHECKING:
    from indexes.protocols import Embedder

STAGES = ("parse", "tokenise", "embed", "build", "verify")
EMBED_BATCH = 256  # texts per cache write: bounds the work a killed build loses
COMPACT_FREE_FRACTION = 0.25  # an incremental job VACUUMs the store only when this much of it is free


class BuildProgress(Protocol):
    """What a job reports; the CLI draws rich progress bars from it, the API records it."""

    def start(self, stage: str, total: int | None = None) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def finish(self, stage: str) -> None: ...


class NullProgress:
    def start(self, stage: str, total: int | None = None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self, stage: str) -> None:
        pass


@dataclass(frozen=True)
class BuildOptions:
    """Everything a job needs besides the embedder (plain values: ``rag.compose.build_options`` takes
    them from ``Settings`` at the edge)."""

    max_file_bytes: int = 100 * 1024 * 1024
    jobs: int = 1
    dense_kind: str = "flat"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    keep_versions: int = 3
    verify_checksums: bool = True



@dataclass(frozen=True)
class FileProblem:
    """A per-file ingestion error: reported, never fatal to the job."""

    path: str
    error: str


@dataclass(frozen=True)
class AlreadyIndexed:
    """A document an add job parsed but did not store: the same content is in the index already."""

    source_path: str  # the file the job read
    document_id: str
    indexed_from: str  # the source path of the stored copy


@dataclass(frozen=True)
class BuildResult:
    version: str
    manifest: Mapping[str, Any]
    errors: tuple[FileProblem, ...] = ()
    removed_partials: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()
    stage_seconds: Mapping[str, float] = field(default_factory=dict)
    already_indexed: tuple[AlreadyIndexed, ...] = ()
    changed: bool = True  # False: an add that added nothing; ``version`` is the unchanged current one


class _NothingChanged(Exception):
    """An incremental job found nothing to add or remove: no new version is made."""


# --- public jobs -------------------------------------------------------------------------------

def build_version(index_root: Path, sources: Sequence[str | Path], *, embedder: "Embedder",
                  options: BuildOptions = BuildOptions(), progress: BuildProgress | None = None) -> BuildResult:
    """Parse ``sources`` (files or directories) and build a complete new version from scratch."""
    check_sources(sources)
    errors: list[FileProblem] = []
    return build_from_documents(index_root, _parsed_documents(sources, options, errors), embedder=embedder,
                                options=options, progress=progress,
                                sources=[str(s) for s in sources], errors=errors)


def build_from_documents(index_root: Path, documents: Iterable[ParsedDocument], *, embedder: "Embedder",
                         options: BuildOptions = BuildOptions(), progress: BuildProgress | None = None,
                         sources: Sequence[str] = (), errors: list[FileProblem] | None = None) -> BuildResult:
    """Build a complete new version from already parsed documents (what ``build_version`` does after parsing)."""
    errors = errors if errors is not None else []
    job = _Job(IndexLayout(Path(index_root)), embedder, options, progress or NullProgress())
    return job.run_full(documents, sources=list(sources), errors=errors)


def add_documents(index_root: Path, paths: Sequence[str | Path], *, embedder: "Embedder",
                  options: BuildOptions = BuildOptions(), progress: BuildProgress | None = None,
                  replace_same_source: bool = True) -> BuildResult:
    """New version = current + the documents parsed from ``paths``.

    With ``replace_same_source`` a re-added file replaces the documents previously ingested from the
    same path (an edited file gets new content-derived ids, so it would otherwise be indexed twice).
    """
    check_sources(paths)
    errors: list[FileProblem] = []
    return add_parsed_documents(index_root, _parsed_documents(paths, options, errors), embedder=embedder,
                                options=options, progress=progress, replace_same_source=replace_same_source,
                                sources=[str(p) for p in paths], errors=errors)


def add_parsed_documents(index_root: Path, documents: Iterable[ParsedDocument], *, embedder: "Embedder",
                         options: BuildOptions = BuildOptions(), progress: BuildProgress | None = None,
                         replace_same_source: bool = True, sources: Sequence[str] = (),
                         errors: list[FileProblem] | None = None) -> BuildResult:
    job = _Job(IndexLayout(Path(index_root)), embedder, options, progress or NullProgress())
    return job.run_incremental(add=documents, remove=[], replace_same_source=replace_same_source,
                               sources=list(sources), errors=errors if errors is not None else [])


def remove_documents(index_root: Path, document_ids: Sequence[str], *, embedder: "Embedder",
                     options: BuildOptions = BuildOptions(), progress: BuildProgress | None = None) -> BuildResult:
    """New version = current without ``document_ids`` (an unknown id is an :class:`InputError`)."""
    job = _Job(IndexLayout(Path(index_root)), embedder, options, progress or NullProgress())
    return job.run_incremental(add=[], remove=list(document_ids), replace_same_source=False, sources=[],
                               errors=[])


def git_commit() -> str | None:
    """The code version recorded in manifests (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


# --- the job -----------------------------------------------------------------------------------

class _Job:
    def __init__(self, layout: IndexLayout, embedder: "Embedder", options: BuildOptions,
                 progress: BuildProgress) -> None:
        self.layout = layout
        self.embedder = embedder
        self.options = options
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.document_vectors: dict[str, str] = {}  # model name -> its vectors' tagged cache name (this job)
        self.bm25_method = "full"  # or "incremental": from the base version's term counts

    # full rebuild
    def run_full(self, documents: Iterable[ParsedDocument], *, sources: list[str],
                 errors: list[FileProblem]) -> BuildResult:
        self.layout.ensure()
        with BuildLock(self.layout.lock_file):
            removed_partials = self.layout.remove_partials()
            version, partial = self._new_partial("full:" + "|".join(sources))
            try:
                store = SqliteChunkStore.create(partial / STORE_FILE)
                try:
                    with self._stage("parse"):
                        for parsed in documents:
                            store.add(parsed)
                            self.progress.advance(1)
                    rows = self._rows(store)
                    self._build_bm25(partial, rows)
                    vectors_ids, vectors = self._embed(rows, rows_ids=None)
                    with self._stage("build", total=len(vectors_ids)):
                        self._save_dense(partial, self._new_dense(vectors_ids, vectors))
                    counts = store.counts()
                    store.compact()
                finally:
                    store.close()
                manifest = self._manifest(version, "full", None, sources, counts, len(vectors_ids), errors)
                return self._finish(version, partial, manifest, errors, removed_partials)
            except BaseException:
                # nothing of a failed job may be mistaken for a version (a SIGKILL leaves
                # the .partial directory, which the next job removes)
                shutil.rmtree(partial, ignore_errors=True)
                raise

    # add / remove
    def run_incremental(self, *, add: Iterable[ParsedDocument], remove: list[str], replace_same_source: bool,
                        sources: list[str], errors: list[FileProblem]) -> BuildResult:
        self.layout.ensure()
        with BuildLock(self.layout.lock_file):
            removed_partials = self.layout.remove_partials()
            base = self.layout.current()
            if base is None:
                raise IndexUnavailableError(
                    f"no index at {self.layout.root} to update: build one first with "
                    "`ipqa index rebuild --source PATH...`")
            base_manifest = self.layout.read_manifest(base)
            check_embedder(base_manifest, self.embedder)
            base_dir = self.layout.version_dir(base)
            version, partial = self._new_partial(f"incremental:{base}:" + "|".join(sources + remove))
            try:
                shutil.copyfile(base_dir / STORE_FILE, partial / STORE_FILE)
                store = SqliteChunkStore.open_for_update(partial / STORE_FILE)
                try:
                    removed_ids: list[int] = []
                    added_ids: list[int] = []
                    already: list[AlreadyIndexed] = []
                    with self._stage("parse"):
                        for document_id in remove:
                            if store.document(document_id) is None:
                                raise InputError(document_id, f"no such document in index version {base}")
                            removed_ids.extend(store.remove_document(document_id))
                        added_documents: set[str] = set()
                        for parsed in add:
                            if replace_same_source:
                                # one file can hold many documents (USPTO bulk): replace only the
                                # base version's documents of that path, never this job's own
                                for old in store.document_ids_from_source(parsed.document.source_path):
                                    if old != parsed.document.id and old not in added_documents:
                                        removed_ids.extend(store.remove_document(old))
                            stored = store.document(parsed.document.id)
                            if stored is not None and parsed.document.id not in added_documents:
                                # the same content under another name (or added before): reported,
                                # so that the caller can say so and keep the file
                                already.append(AlreadyIndexed(parsed.document.source_path, stored.id,
                                                              stored.source_path))
                            else:
                                added_documents.add(parsed.document.id)
                                added_ids.extend(store.add(parsed))
                            self.progress.advance(1)
                    if not (added_ids or removed_ids or remove or added_documents):
                        raise _NothingChanged()
                    # only the added chunks are read, tokenised and embedded
                    added_rows = self._rows(store, int_ids=added_ids)
                    self._update_bm25(partial, base_dir, store, removed_ids, added_rows)
                    new_ids, new_vectors = self._embed(added_rows, rows_ids=None)
                    with self._stage("build", total=len(new_ids)):
                        dense = self._load_dense(base_dir)
                        if dense is not None and removed_ids:
                            dense.remove(np.asarray(removed_ids, dtype=np.int64))
                        if dense is None:
                            dense = self._new_dense(new_ids, new_vectors)
                        elif len(new_ids):
                            dense.add(new_ids, new_vectors)
                        self._save_dense(partial, dense)
                    dense_count = int(dense.ntotal) if dense is not None else 0
                    counts = store.counts()
                    if removed_ids and store.free_fraction() > COMPACT_FREE_FRACTION:
                        store.compact()
                finally:
                    store.close()
                kind = "remove" if remove and not sources else "add"
                manifest = self._manifest(version, kind, base, sources or list(base_manifest.get("sources", [])),
                                          counts, dense_count, errors,
                                          changes={"added_chunks": len(added_ids), "removed_chunks": len(removed_ids),
                                                   "removed_documents": remove})
                result = self._finish(version, partial, manifest, errors, removed_partials)
                return replace(result, already_indexed=tuple(already))
            except _NothingChanged:
                # no change, no version: a new one would only push a rollback version out
                shutil.rmtree(partial, ignore_errors=True)
                manifest = dict(base_manifest, changes={"added_chunks": 0, "removed_chunks": 0,
                                                        "removed_documents": []})
                return BuildResult(version=base, manifest=manifest, errors=tuple(errors),
                                   removed_partials=tuple(removed_partials), stage_seconds=dict(self.seconds),
                                   already_indexed=tuple(already), changed=False)
            except BaseException:
                # nothing of a failed job may be mistaken for a version (a SIGKILL leaves
                # the .partial directory, which the next job removes)
                shutil.rmtree(partial, ignore_errors=True)
                raise

    # --- stages ------------------------------------------------------------------------------
    def _stage(self, name: str, total: int | None = None) -> "_StageTimer":
        return _StageTimer(self, name, total)

    def _new_partial(self, seed: str) -> tuple[str, Path]:
        version = new_version_name(seed)
        partial = self.layout.partial_dir(version)
        partial.mkdir(parents=True)
        (partial / READERS_LOCK).touch()
        return version, partial

    @staticmethod
    def _rows(store: SqliteChunkStore, int_ids: Iterable[int] | None = None) -> "_Rows":
        ids, texts, languages = store.index_rows(int_ids)
        return _Rows(ids, texts, languages)

    def _build_bm25(self, partial: Path, rows: "_Rows") -> None:
        with self._stage("tokenise", total=len(rows.ids)):
            token_cache = self._token_cache()
            try:
                index = Bm25Index.build(rows.ids.tolist(), rows.texts, rows.languages, k1=self.options.bm25_k1,
                                        b=self.options.bm25_b, token_cache=token_cache)
            finally:
                token_cache.close()
            index.save(partial / BM25_DIR)
            self.progress.advance(len(rows.ids))

    def _update_bm25(self, partial: Path, base_dir: Path, store: SqliteChunkStore, removed_ids: list[int],
                     added: "_Rows") -> None:
        """BM25 of the new version from the base's term counts: only the added chunks are tokenised
        and the weights recomputed (IDF and average length change with every document). Falls back
        to a build over all rows (from cached tokens) when the base has no term counts."""
        with self._stage("tokenise", total=len(added.ids)):
            token_cache = self._token_cache()
            try:
                try:
                    index = Bm25Index.updated(base_dir / BM25_DIR, remove_ids=removed_ids,
                                              add_ids=added.ids.tolist(), add_texts=added.texts,
                                              add_languages=added.languages, k1=self.options.bm25_k1,
                                              b=self.options.bm25_b, token_cache=token_cache)
                except ValueError:  # the base's BM25 rows disagree with its store: rebuild from the store
                    index = None
                if index is not None and len(index) == store.count_chunks():
                    self.bm25_method = "incremental"
                else:
                    rows = self._rows(store)
                    index = Bm25Index.build(rows.ids.tolist(), rows.texts, rows.languages, k1=self.options.bm25_k1,
                                            b=self.options.bm25_b, token_cache=token_cache)
            finally:
                token_cache.close()
            index.save(partial / BM25_DIR)
            self.progress.advance(len(added.ids))

    def _token_cache(self) -> TokenCache:
        return TokenCache(self.layout.cache_dir / "tokens.sqlite")

    def _embed(self, rows: "_Rows", *, rows_ids: set[int] | None) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of the rows whose language the embedder serves (only ``rows_ids`` when given).

        Each language's rows go to the model of that language (:func:`part_for`; one model unless the
        embedder routes languages) and are cached under that model's name, so a routed embedder that
        adds a language reuses the vectors of the others. Narrower models' vectors are zero-padded."""
        served = self.embedder.languages
        selected = [i for i, (int_id, language) in enumerate(zip(rows.ids.tolist(), rows.languages))
                    if language in served and (rows_ids is None or int_id in rows_ids)]
        ids = rows.ids[selected]
        vectors = np.zeros((len(selected), self.embedder.dimension), dtype=np.float32)
        with self._stage("embed", total=len(selected)):
            if not selected:
                return ids, vectors
            cache = EmbeddingCache(self.layout.cache_dir / "embeddings.sqlite")
            try:
                by_language: dict[str, list[int]] = {}
                for pos, i in enumerate(selected):
                    by_language.setdefault(rows.languages[i], []).append(pos)
                for language, positions in sorted(by_language.items()):
                    self._embed_with(part_for(self.embedder, language), cache, rows, selected, positions, vectors)
            finally:
                close = getattr(cache, "close", None)
                if close is not None:
                    close()
        return ids, vectors

    def _embed_with(self, model: "Embedder", cache: Any, rows: "_Rows", selected: list[int],
                    positions: list[int], vectors: np.ndarray) -> None:
        hashes = {pos: content_hash(rows.texts[selected[pos]]) for pos in positions}
        # Vectors are cached under the name of what made them: a faster runtime's (bf16, int8) are
        # tagged (indexes.document_runtime), so they never stand in for another runtime's.
        vectors_name = document_vectors_name(model)
        if vectors_name != model.name:  # recorded in the manifest: which models' vectors are not fp32
            self.document_vectors[model.name] = vectors_name
        cached = cache.get_many(vectors_name, list(hashes.values()))
        # Longest first: each encode call then holds texts of similar length (less padding); a
        # killed build still keeps every batch written so far.
        todo = sorted((pos for pos in positions if hashes[pos] not in cached),
                      key=lambda pos: -len(rows.texts[selected[pos]]))
        for pos in positions:
            found = cached.get(hashes[pos])
            if found is not None:
                vectors[pos, :len(found)] = found
        self.progress.advance(len(positions) - len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start:start + EMBED_BATCH]
            encoded = np.asarray(model.encode_document([rows.texts[selected[p]] for p in batch]), dtype=np.float32)
            vectors[batch, :encoded.shape[1]] = encoded
            cache.put_many(vectors_name, {hashes[p]: encoded[j] for j, p in enumerate(batch)})
            self.progress.advance(len(batch))

    def _new_dense(self, ids: np.ndarray, vectors: np.ndarray) -> Any:
        if len(ids) == 0:
            return None
        return DenseIndex.build(ids, vectors, kind=self.options.dense_kind)

    @staticmethod
    def _load_dense(version_dir: Path) -> Any:
        if not (version_dir / DENSE_DIR).is_dir():
            return None
        return DenseIndex.load(version_dir / DENSE_DIR, use_gpu=False)

    @staticmethod
    def _save_dense(partial: Path, dense: Any) -> None:
        if dense is not None and dense.ntotal > 0:
            dense.save(partial / DENSE_DIR)

    def _manifest(self, version: str, kind: str, base: str | None, sources: list[str], counts: dict[str, Any],
                  dense_count: int, errors: list[FileProblem], changes: dict[str, Any] | None = None,
                  ) -> dict[str, Any]:
        served = sorted(self.embedder.languages)
        return {
            "format_version": FORMAT_VERSION,
            "version": version,
            "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "build": kind,
            "base_version": base,
            "sources": sources,
            "embedder": {"name": self.embedder.name, "dimension": int(self.embedder.dimension),
                         "languages": served,
                         **({"document_vectors": dict(sorted(self.document_vectors.items()))}
                            if self.document_vectors else {})},
            "dense": {"kind": self.options.dense_kind, "vectors": dense_count, "languages": served,
                      "note": "only chunks in the embedder's languages are embedded"},
            "bm25": {"k1": self.options.bm25_k1, "b": self.options.bm25_b, "documents": counts["chunks"],
                     "built": self.bm25_method},
            "counts": counts,
            "ingest_version": __version__,
            "code_version": git_commit(),
            "file_errors": [{"path": e.path, "error": e.error} for e in errors],
            "changes": changes or {},
            "stage_seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def _finish(self, version: str, partial: Path, manifest: dict[str, Any], errors: list[FileProblem],
                removed_partials: list[str]) -> BuildResult:
        with self._stage("verify"):
            manifest["files"] = describe_files(partial)
            write_manifest(partial, manifest)
            # Open it exactly as a reader would: files, checksums, embedder, and a probe query.
            # (sizes only: the checksums were computed from these very files a moment ago)
            snapshot = Snapshot.open_directory(partial, version=version, embedder=self.embedder,
                                               verify_checksums=False, take_reader_lock=False)
            try:
                verify_snapshot(snapshot)
            finally:
                snapshot.close()
        # the manifest itself is not checksummed, so the verify time can still be recorded in it
        manifest["stage_seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        write_manifest(partial, manifest)
        fsync_tree(partial)
        final = self.layout.version_dir(version)
        partial.rename(final)
        self.layout.set_current(version)
        pruned = self.layout.prune(self.options.keep_versions)
        return BuildResult(version=version, manifest=manifest, errors=tuple(errors),
                           removed_partials=tuple(removed_partials), pruned=tuple(pruned),
                           stage_seconds=dict(self.seconds))


def verify_snapshot(snapshot: Any) -> None:
    """Counts agree with the manifest and a probe query answers; raise IndexUnavailableError if not."""
    manifest = snapshot.manifest
    chunks = snapshot.store.count_chunks()
    if chunks != manifest["counts"]["chunks"]:
        raise IndexUnavailableError(f"index {snapshot.version}: store has {chunks} chunks, "
                                    f"manifest says {manifest['counts']['chunks']}")
    if snapshot.bm25_count != chunks:
        raise IndexUnavailableError(f"index {snapshot.version}: BM25 has {snapshot.bm25_count} documents, "
                                    f"store has {chunks} chunks")
    if snapshot.dense_count != manifest["dense"]["vectors"]:
        raise IndexUnavailableError(f"index {snapshot.version}: dense index has {snapshot.dense_count} vectors, "
                                    f"manifest says {manifest['dense']['vectors']}")
    if chunks:
        probe = next(iter(snapshot.store.iter_chunks_with_documents(batch_size=1)))[1]
        if not snapshot.search_bm25(probe.text[:200], 5):
            raise IndexUnavailableError(f"index {snapshot.version}: BM25 finds nothing for the text of {probe.id}")


@dataclass
class _Rows:
    ids: np.ndarray
    texts: list[str]
    languages: list[str]


class _StageTimer:
    def __init__(self, job: _Job, name: str, total: int | None) -> None:
        self.job, self.name, self.total = job, name, total

    def __enter__(self) -> "_StageTimer":
        self.job.progress.start(self.name, self.total)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.job.seconds[self.name] = self.job.seconds.get(self.name, 0.0) + time.perf_counter() - self.t0
        if exc_type is None:
            self.job.progress.finish(self.name)


def check_sources(paths: Sequence[str | Path]) -> None:
    """A source that does not exist at all is a typo, not a bad file: a rebuild without it would
    silently drop a whole corpus, so refuse before starting (bad FILES are per-file errors)."""
    if not paths:
        raise InputError("sources", "no file or directory given")
    for path in paths:
        if not Path(path).exists():
            raise InputError(str(path), "no such file or directory")


def _parsed_documents(paths: Sequence[str | Path], options: BuildOptions,
                      errors: list[FileProblem]) -> Iterator[ParsedDocument]:
    """Stream parsed documents; per-file errors are collected in ``errors``, never raised."""
    if options.jobs > 1:
        result = pipeline.ingest(list(paths), max_file_bytes=options.max_file_bytes, jobs=options.jobs)
        errors.extend(FileProblem(e.path, e.error) for e in result.errors)
        yield from result.documents
        return
    file_errors: list[Any] = []
    try:
        yield from pipeline.iter_documents(list(paths), max_file_bytes=options.max_file_bytes, errors=file_errors)
    finally:
        errors.extend(FileProblem(e.path, e.error) for e in file_errors)
