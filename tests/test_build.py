"""Build jobs: full rebuild, incremental add/remove equal to a fresh rebuild, verification, refusal of
a foreign embedder, corrupt files caught at open, failure atomicity, the index manager's reload."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from index_corpus import HashingEmbedder, copyright_law, corpus, patent, patent_law, title35
from indexes.build import BuildOptions, add_parsed_documents, build_from_documents, build_version, remove_documents
from indexes.layout import IndexLayout
from indexes.locking import BuildInProgressError, BuildLock
from indexes.protocols import IndexSnapshot, SearchFilters
from indexes.manager import IndexManager
from indexes.snapshot import open_snapshot
from ipqa.errors import IndexUnavailableError, InputError

BM25_QUERIES = ["专利权 许可 实施", "作品 著作权 发表权", "patent infringement induces", "bicycle brake caliper",
                "新颖性 创造性 实用性", "专利法第二条"]
DENSE_QUERIES = ["patent infringement", "hydraulic brake caliper", "new and useful process machine"]
OPTIONS = BuildOptions(keep_versions=10)


def _results(snapshot, search, queries, filters=None):
    return {q: [(h.chunk.id, h.score) for h in getattr(snapshot, search)(q, 10, filters)] for q in queries}


def _assert_same(a: dict, b: dict) -> None:
    """Same ids with the same scores; among exactly tied scores the order (and, for the tie cut by
    k, the members) may differ, as in any top-k search."""
    assert a.keys() == b.keys()
    for query in a:
        assert len(a[query]) == len(b[query]), query
        np.testing.assert_allclose([s for _, s in a[query]], [s for _, s in b[query]], rtol=1e-5, atol=1e-6)
        groups_a, groups_b = _tie_groups(a[query]), _tie_groups(b[query])
        assert [ids for ids in groups_a[:-1]] == [ids for ids in groups_b[:-1]], query
        if groups_a and len(groups_a[-1]) == len(a[query]):  # one tie group: k cut it arbitrarily
            continue


def _tie_groups(results: list[tuple[str, float]]) -> list[set[str]]:
    groups: list[set[str]] = []
    last = None
    for cid, score in results:
        if last is None or abs(score - last) > 1e-5:
            groups.append(set())
        groups[-1].add(cid)
        last = score
    return groups


def test_full_build_answers_both_indexes_with_filters(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    result = build_from_documents(tmp_path, corpus(), embedder=embedder, options=OPTIONS, sources=["mem"])
    layout = IndexLayout(tmp_path)
    assert layout.current() == result.version and layout.partials() == []
    manifest = layout.read_manifest(result.version)
    assert manifest["embedder"] == {"name": "test-hashing", "dimension": 64, "languages": ["en"]}
    assert manifest["counts"]["chunks_by_language"] == {"en": 7, "zh": 11}
    assert manifest["dense"]["vectors"] == 7  # only the embedder's languages are embedded
    assert embedder.encoded_documents == 7
    assert set(manifest["stage_seconds"]) == {"parse", "tokenise", "embed", "build", "verify"}
    assert {"store.sqlite", "bm25/ids.npy"} <= set(manifest["files"])

    snapshot = open_snapshot(tmp_path, embedder=embedder)
    try:
        assert isinstance(snapshot, IndexSnapshot)
        top = snapshot.search_bm25("专利权 许可 实施", 3)
        assert top[0].chunk.citation == "专利法 第十一条" and top[0].rank == 1 and top[0].source == "bm25"
        dense = snapshot.search_dense("hydraulic caliper brake", 3)
        assert dense[0].chunk.citation == "US 8,927,118 B2, claim 2" and dense[0].source == "dense"
        assert snapshot.search_dense("专利权的保护", 3) == []  # Chinese: not served by this embedder
        old_only = SearchFilters(version_to="2010-01-01")
        assert {snapshot.store.document(h.chunk.document_id).version
                for h in snapshot.search_bm25("专利权 许可 实施", 10, old_only)} == {"2008-12-27"}
        patents = SearchFilters(kinds=frozenset({"patent"}))
        assert {h.chunk.document_id for h in snapshot.search_dense("patent infringement", 10, patents)} == {
            patent().document.id}
        # a filter that excludes the best match still fills k from the allowed chunks
        no_claim2 = SearchFilters(document_ids=frozenset({title35().document.id}))
        assert len(snapshot.search_dense("hydraulic caliper brake", 3, no_claim2)) == 3
        assert snapshot.search_bm25("专利", 5, SearchFilters(kinds=frozenset())) == []
    finally:
        snapshot.close()


class CountingEmbedder:
    """Wraps a real embedder and counts the documents it encodes."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.dimension, self.languages = inner.name, inner.dimension, inner.languages
        self.encoded_documents = 0

    def encode_query(self, texts):
        return self.inner.encode_query(texts)

    def encode_document(self, texts):
        self.encoded_documents += len(texts)
        return self.inner.encode_document(texts)


@pytest.fixture(params=["hashing", "tiny-sentence-transformer"])
def counting_embedder(request):
    if request.param == "hashing":
        return HashingEmbedder()
    from indexes.embedder import create_embedder

    return CountingEmbedder(create_embedder(str(request.getfixturevalue("tiny_embedder_dir")), device="cpu"))


def test_add_then_remove_equals_fresh_rebuilds(tmp_path: Path, counting_embedder) -> None:
    embedder = counting_embedder
    base = [patent_law("2020-10-17"), copyright_law(), title35()]
    extra = patent()
    build_from_documents(tmp_path / "inc", base, embedder=embedder, options=OPTIONS)
    before = embedder.encoded_documents
    added = add_parsed_documents(tmp_path / "inc", [extra], embedder=embedder, options=OPTIONS)
    assert embedder.encoded_documents - before == len(extra.chunks)  # only the new chunks are embedded
    assert added.manifest["build"] == "add" and added.manifest["changes"]["added_chunks"] == 4

    # fresh rebuilds in other roots: their own (empty) embedding caches, so every vector is recomputed
    build_from_documents(tmp_path / "fresh_all", base + [extra], embedder=embedder, options=OPTIONS)
    build_from_documents(tmp_path / "fresh_base", base, embedder=embedder, options=OPTIONS)

    def compare(root_a: Path, root_b: Path) -> None:
        a, b = open_snapshot(root_a, embedder=embedder), open_snapshot(root_b, embedder=embedder)
        try:
            for filters in (None, SearchFilters(jurisdictions=frozenset({"US"}))):
                _assert_same(_results(a, "search_bm25", BM25_QUERIES, filters),
                             _results(b, "search_bm25", BM25_QUERIES, filters))
                _assert_same(_results(a, "search_dense", DENSE_QUERIES, filters),
                             _results(b, "search_dense", DENSE_QUERIES, filters))
            assert a.manifest["counts"] == b.manifest["counts"]
        finally:
            a.close()
            b.close()

    compare(tmp_path / "inc", tmp_path / "fresh_all")
    before = embedder.encoded_documents
    removed = remove_documents(tmp_path / "inc", [extra.document.id], embedder=embedder, options=OPTIONS)
    assert embedder.encoded_documents == before
    assert removed.manifest["build"] == "remove" and removed.manifest["base_version"] == added.version
    compare(tmp_path / "inc", tmp_path / "fresh_base")


def test_readding_an_edited_file_replaces_its_old_documents(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    build_from_documents(tmp_path, [patent_law("2020-10-17"), title35()], embedder=embedder, options=OPTIONS)
    edited = patent_law("2020-10-17", extra="（已修改）")  # same source path, new content → new ids
    add_parsed_documents(tmp_path, [edited], embedder=embedder, options=OPTIONS)
    snapshot = open_snapshot(tmp_path, embedder=embedder)
    try:
        assert [d.id for d in snapshot.store.documents(filters=SearchFilters(languages=frozenset({"zh"})))] == [
            edited.document.id]
        assert snapshot.store.document(patent_law("2020-10-17").document.id) is None
    finally:
        snapshot.close()


def test_a_failing_build_leaves_current_and_no_partial(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    first = build_from_documents(tmp_path, [title35()], embedder=embedder, options=OPTIONS)

    def broken():
        yield patent()
        raise RuntimeError("parser exploded")

    with pytest.raises(RuntimeError, match="parser exploded"):
        build_from_documents(tmp_path, broken(), embedder=embedder, options=OPTIONS)
    layout = IndexLayout(tmp_path)
    assert layout.current() == first.version and layout.partials() == [] and layout.versions() == [first.version]
    with pytest.raises(InputError, match="no such document"):
        remove_documents(tmp_path, ["d-not-there"], embedder=embedder, options=OPTIONS)
    assert layout.current() == first.version and layout.partials() == []


def test_a_second_concurrent_build_is_refused(tmp_path: Path) -> None:
    with BuildLock(IndexLayout(tmp_path).lock_file):
        with pytest.raises(BuildInProgressError, match="another index build is running"):
            build_from_documents(tmp_path, [title35()], embedder=HashingEmbedder(), options=OPTIONS)


def test_incremental_job_without_an_index_says_to_rebuild(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailableError, match="ipqa index rebuild"):
        add_parsed_documents(tmp_path, [title35()], embedder=HashingEmbedder(), options=OPTIONS)


def test_index_of_another_embedder_is_refused_with_rebuild_advice(tmp_path: Path) -> None:
    build_from_documents(tmp_path, [title35()], embedder=HashingEmbedder(), options=OPTIONS)
    other = HashingEmbedder(name="another-model", dimension=32)
    with pytest.raises(IndexUnavailableError, match=r"built with embedder 'test-hashing'.*ipqa index rebuild"):
        open_snapshot(tmp_path, embedder=other)
    with pytest.raises(IndexUnavailableError, match="ipqa index rebuild"):
        add_parsed_documents(tmp_path, [patent()], embedder=other, options=OPTIONS)
    snapshot = open_snapshot(tmp_path, embedder=None)  # BM25-only readers need no model
    try:
        assert snapshot.search_bm25("patent infringement", 3) and snapshot.search_dense("patent", 3) == []
    finally:
        snapshot.close()


@pytest.mark.parametrize("damage", ["truncate_store", "delete_dense", "flip_bm25_byte", "no_current_dir"])
def test_missing_or_corrupt_files_fail_at_open(tmp_path: Path, damage: str) -> None:
    result = build_from_documents(tmp_path, corpus(), embedder=HashingEmbedder(), options=OPTIONS)
    directory = IndexLayout(tmp_path).version_dir(result.version)
    if damage == "truncate_store":
        with (directory / "store.sqlite").open("r+b") as f:
            f.truncate(4096)
    elif damage == "delete_dense":
        next(p for p in (directory / "dense").iterdir() if p.is_file()).unlink()
    elif damage == "flip_bm25_byte":
        target = max((p for p in (directory / "bm25").iterdir() if p.is_file()), key=lambda p: p.stat().st_size)
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        import shutil

        shutil.rmtree(directory)
    with pytest.raises(IndexUnavailableError):
        open_snapshot(tmp_path, embedder=HashingEmbedder())


def test_manager_reloads_while_old_snapshot_serves_in_flight_requests(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    build_from_documents(tmp_path, [title35()], embedder=embedder, options=OPTIONS)
    manager = IndexManager(tmp_path, embedder=embedder, options=OPTIONS)
    with manager.acquire() as old:
        old_version = old.version
        assert old.search_bm25("bicycle brake", 5) == []
        build_from_documents(tmp_path, [title35(), patent()], embedder=embedder, options=OPTIONS)
        assert manager.reload() is True
        # the in-flight request still works on its snapshot
        assert old.search_bm25("patent infringement", 3)[0].chunk.citation == "35 U.S.C. § 271"
        with manager.acquire() as new:
            assert new.version != old_version and new.search_bm25("bicycle brake", 5)
    with pytest.raises(IndexUnavailableError, match="closed"):
        old.store.count_chunks()  # closed once its last user released it
    assert manager.reload() is False
    manager.close()


def test_manager_jobs_switch_what_is_served(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    build_from_documents(tmp_path, [title35()], embedder=embedder, options=OPTIONS)
    manager = IndexManager(tmp_path, embedder=embedder, options=OPTIONS)
    first = manager.current().version
    errors: list[BaseException] = []
    stop = threading.Event()

    def serve() -> None:  # requests keep flowing while jobs switch versions
        try:
            while not stop.is_set():
                with manager.acquire() as snapshot:
                    assert snapshot.search_bm25("patent infringement", 3)
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=serve) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        add_parsed_documents(tmp_path, [patent()], embedder=embedder, options=OPTIONS)
        manager.reload()
        assert manager.version != first
        manager.remove([patent().document.id])
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors
    assert manager.current().search_bm25("bicycle brake", 5) == []
    manager.close()


def test_old_versions_are_pruned(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    options = BuildOptions(keep_versions=2)
    versions = [build_from_documents(tmp_path, [title35()], embedder=embedder, options=options).version
                for _ in range(4)]
    assert IndexLayout(tmp_path).versions() == versions[-2:]


def test_build_version_reports_bad_files_without_failing(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("Claim construction follows the intrinsic record.\n\nA second paragraph.",
                                    encoding="utf-8")
    (docs / "huge.txt").write_text("x" * 5000, encoding="utf-8")
    result = build_version(tmp_path / "index", [docs], embedder=HashingEmbedder(),
                           options=BuildOptions(max_file_bytes=1000))
    assert [Path(e.path).name for e in result.errors] == ["huge.txt"]
    assert result.manifest["counts"]["documents"] == 1
    assert result.manifest["file_errors"][0]["path"].endswith("huge.txt")
    with pytest.raises(InputError, match="no such file"):
        build_version(tmp_path / "index", [tmp_path / "nope"], embedder=HashingEmbedder())


def _bm25_arrays(root: Path) -> dict[str, np.ndarray]:
    layout = IndexLayout(root)
    directory = layout.version_dir(layout.current()) / "bm25"
    return {name: np.load(directory / name) for name in
            ("ids.npy", "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy",
             "term_hashes.npy", "term_tf.npy", "doc_lengths.npy")} | {
        "vocab": (directory / "vocab.index.json").read_text(encoding="utf-8")}


def _assert_same_bm25_files(root_a: Path, root_b: Path) -> None:
    a, b = _bm25_arrays(root_a), _bm25_arrays(root_b)
    for name in a:
        if name == "vocab":
            assert a[name] == b[name]
        else:
            assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name


def test_incremental_bm25_is_identical_to_a_rebuild_also_without_saved_term_counts(tmp_path: Path) -> None:
    embedder = HashingEmbedder()
    base = [patent_law("2020-10-17"), copyright_law(), title35()]
    build_from_documents(tmp_path / "fresh_all", base + [patent()], embedder=embedder, options=OPTIONS)
    build_from_documents(tmp_path / "fresh_base", base[1:], embedder=embedder, options=OPTIONS)

    build_from_documents(tmp_path / "inc", base, embedder=embedder, options=OPTIONS)
    added = add_parsed_documents(tmp_path / "inc", [patent()], embedder=embedder, options=OPTIONS)
    assert added.manifest["bm25"]["built"] == "incremental"
    _assert_same_bm25_files(tmp_path / "inc", tmp_path / "fresh_all")

    # an index written before term counts were saved: the job rebuilds BM25 from all rows instead
    layout = IndexLayout(tmp_path / "inc")
    bm25_dir = layout.version_dir(layout.current()) / "bm25"
    for name in ("term_hashes.npy", "term_tf.npy", "doc_lengths.npy"):
        (bm25_dir / name).unlink()
    removed = remove_documents(tmp_path / "inc", [patent().document.id, base[0].document.id],
                               embedder=embedder, options=OPTIONS)
    assert removed.manifest["bm25"]["built"] == "full"
    _assert_same_bm25_files(tmp_path / "inc", tmp_path / "fresh_base")


def test_an_index_whose_bm25_another_bm25s_wrote_is_refused_at_open_with_the_advice_to_rebuild(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashingEmbedder()
    build_from_documents(tmp_path, [patent_law()], embedder=embedder, options=OPTIONS, sources=["mem"])
    open_snapshot(tmp_path, embedder=embedder).close()
    import indexes.bm25

    monkeypatch.setattr(indexes.bm25, "bm25s_version", lambda: "0.99.0")  # bm25s upgraded under the index
    with pytest.raises(IndexUnavailableError, match=r"this ipqa runs bm25s 0\.99\.0.*`ipqa index rebuild"):
        open_snapshot(tmp_path, embedder=embedder)
    # a rebuild with the new bm25s makes it readable again
    build_from_documents(tmp_path, [patent_law()], embedder=embedder, options=OPTIONS, sources=["mem"])
    open_snapshot(tmp_path, embedder=embedder).close()
