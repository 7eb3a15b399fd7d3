"""FAISS dense index: exact and approximate kinds, ids, deletion, filters, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexes.dense import KINDS, DenseIndex, gpu_available
from ipqa.errors import IndexUnavailableError

DIMENSION = 16


def unit_vectors(n: int, seed: int = 0, dimension: int = DIMENSION) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def sparse_ids(n: int) -> np.ndarray:
    """Ids that are not positions (what chunk int ids look like)."""
    return np.arange(n, dtype=np.int64) * 7 + 1_000_003


def build(ids: np.ndarray, vectors: np.ndarray, kind: str = "flat", **options) -> DenseIndex:
    if kind == "hnsw":  # a smaller graph keeps the tests fast; the defaults are for real corpora
        options = {"hnsw_m": 16, "ef_construction": 40, "ef_search": 64, **options}
    return DenseIndex.build(ids, vectors, kind=kind, **options)


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vectors.T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return sparse_ids(2000), unit_vectors(2000)


@pytest.mark.parametrize("kind", KINDS)
def test_every_vector_finds_itself_first(kind: str, data) -> None:
    ids, vectors = data
    index = build(ids, vectors, kind)
    assert index.ntotal == 2000 and index.dimension == DIMENSION
    scores, found = index.search(vectors[:50], 3)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    assert (found[:, 0] == ids[:50]).mean() >= 0.98
    assert np.allclose(scores[found[:, 0] == ids[:50], 0], 1.0, atol=1e-5)


def test_flat_is_exact_inner_product(data) -> None:
    ids, vectors = data
    queries = unit_vectors(20, seed=1)
    _, found = build(ids, vectors).search(queries, 10)
    assert (found == exact_top_k(vectors, ids, queries, 10)).all()


@pytest.mark.parametrize("kind", KINDS)
def test_filter_that_excludes_the_best_match_still_returns_k_results(kind: str, data) -> None:
    ids, vectors = data
    index = build(ids, vectors, kind)
    query = vectors[:1]
    best = index.search(query, 1)[1][0, 0]
    for allowed in (ids[ids != best][:10], ids[ids != best]):  # a small and a large filter
        scores, found = index.search(query, 5, allowed_ids=allowed)
        assert (found >= 0).all(), f"{kind}: fewer than k results under a filter"
        assert best not in found and set(found[0].tolist()) <= set(allowed.tolist())
        assert (np.diff(scores[0]) <= 1e-6).all()
    small = ids[ids != best][:10]
    _, found = index.search(query, 5, allowed_ids=small)
    assert (found[0] == exact_top_k(vectors[np.isin(ids, small)], small, query, 5)[0]).all()


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_large_selective_filter_on_approximate_kinds_is_complete(kind: str) -> None:
    # > 4,096 allowed ids takes the selector path. All allowed vectors point away from the query, so
    # HNSW's walk and IVF's probed lists find none of them: the index must answer exactly instead.
    n = 12000
    ids, vectors = sparse_ids(n), unit_vectors(n, seed=2, dimension=4)
    index = build(ids, vectors, kind)
    allowed = ids[vectors[:, 0] > 0.0]
    assert len(allowed) > 4096
    query = np.array([[-1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    approximate = index._search_filtered(query, 10, np.unique(allowed))[1]
    assert (approximate < 0).any(), "precondition: the approximate search alone comes up short"
    scores, found = index.search(query, 10, allowed_ids=allowed)
    assert (found >= 0).all() and np.isin(found, allowed).all()
    expected = exact_top_k(vectors[np.isin(ids, allowed)], ids[np.isin(ids, allowed)], query, 10)
    assert (found == expected).all()


def test_allowed_ids_absent_from_the_index_are_ignored(data) -> None:
    ids, vectors = data
    index = build(ids, vectors)
    _, found = index.search(vectors[:1], 3, allowed_ids=np.array([ids[5], 42], dtype=np.int64))
    assert found[0].tolist() == [ids[5], -1, -1]
    _, found = index.search(vectors[:1], 3, allowed_ids=np.array([], dtype=np.int64))
    assert (found == -1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_remove_and_replace_by_id(kind: str, data) -> None:
    ids, vectors = data
    index = build(ids, vectors, kind)
    assert index.remove(ids[:10]) == 10
    assert index.remove(ids[:10]) == 0  # already gone
    assert index.ntotal == 1990
    _, found = index.search(vectors[:10], 5)
    assert not np.isin(found, ids[:10]).any()
    assert set(index.ids().tolist()) == set(ids[10:].tolist())
    # add() replaces an id that is present: the id now points at the new vector
    replacement = unit_vectors(1, seed=9)
    index.add(ids[20:21], replacement)
    assert index.ntotal == 1990
    _, found = index.search(replacement, 1)
    assert found[0, 0] == ids[20]
    index.add(ids[:2], vectors[:2])
    assert index.ntotal == 1992


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_round_trip(kind: str, data, tmp_path: Path) -> None:
    ids, vectors = data
    index = build(ids, vectors, kind)
    index.remove(ids[:3])
    index.save(tmp_path / "dense")
    loaded = DenseIndex.load(tmp_path / "dense", use_gpu=False)
    assert loaded.kind == kind and loaded.ntotal == index.ntotal and loaded.params == index.params
    queries = unit_vectors(5, seed=3)
    assert (loaded.search(queries, 5)[1] == index.search(queries, 5)[1]).all()
    assert loaded.remove(ids[3:5]) == 2  # a loaded index can still change


def test_incomplete_or_corrupt_saves_are_refused(data, tmp_path: Path) -> None:
    ids, vectors = data
    build(ids, vectors).save(tmp_path / "dense")
    (tmp_path / "dense" / "dense.faiss").write_bytes(b"not a faiss index")
    with pytest.raises(IndexUnavailableError, match="cannot read"):
        DenseIndex.load(tmp_path / "dense")
    (tmp_path / "dense" / "dense.json").unlink()
    with pytest.raises(IndexUnavailableError, match="dense.json"):
        DenseIndex.load(tmp_path / "dense")


def test_bad_input_is_refused_with_the_problem_named(data) -> None:
    ids, vectors = data
    with pytest.raises(ValueError, match="unknown"):
        DenseIndex.build(ids, vectors, kind="annoy")
    with pytest.raises(ValueError, match="duplicate ids"):
        DenseIndex.build(np.array([1, 1]), vectors[:2])
    with pytest.raises(ValueError, match="-1 is reserved"):
        DenseIndex.build(np.array([-1]), vectors[:1])
    with pytest.raises(ValueError, match="3 ids for 2 vectors"):
        DenseIndex.build(np.array([1, 2, 3]), vectors[:2])
    bad = vectors[:2].copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DenseIndex.build(np.array([1, 2]), bad)
    index = build(ids, vectors)
    with pytest.raises(ValueError, match="dimension 8, the index has 16"):
        index.search(np.zeros((1, 8), np.float32), 3)
    with pytest.raises(ValueError, match="k must be positive"):
        index.search(vectors[:1], 0)


def test_empty_index_answers_with_no_results(tmp_path: Path) -> None:
    index = DenseIndex.build(np.empty(0, np.int64), np.zeros((0, DIMENSION), np.float32))
    scores, found = index.search(unit_vectors(2), 3)
    assert found.shape == (2, 3) and (found == -1).all()
    index.add(sparse_ids(3), unit_vectors(3))
    assert index.ntotal == 3


def test_ivf_list_count_follows_corpus_size() -> None:
    from indexes.dense import default_nlist

    assert default_nlist(10) == 1
    assert default_nlist(70_000) == int(4 * np.sqrt(70_000))
    assert default_nlist(2000) == 2000 // 39


def test_gpu_request_without_gpu_falls_back_to_cpu(data) -> None:
    ids, vectors = data
    index = DenseIndex.build(ids, vectors, use_gpu=True)
    assert index.on_gpu == gpu_available()
    assert index.search(vectors[:1], 1)[1][0, 0] == ids[0]


@pytest.mark.skipif(not gpu_available(), reason="needs faiss-gpu and a GPU")
def test_gpu_clone_gives_the_cpu_results(data) -> None:  # pragma: no cover - no GPU in CI
    ids, vectors = data
    cpu = DenseIndex.build(ids, vectors, use_gpu=False)
    gpu = DenseIndex.build(ids, vectors, use_gpu=True)
    assert gpu.on_gpu
    queries = unit_vectors(10, seed=4)
    assert (gpu.search(queries, 5)[1] == cpu.search(queries, 5)[1]).all()


@pytest.mark.parametrize("kind", KINDS)
def test_known_vectors_skips_unknown_ids_and_follows_adds_and_removals(kind: str) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(60, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DenseIndex.build(np.arange(1, 61), vectors, kind=kind, **({"nlist": 1} if kind == "ivf" else {}))
    found, got = index.known_vectors(np.array([5, 999, 7]))
    assert found.tolist() == [5, 7] and np.allclose(got, vectors[[4, 6]], atol=1e-6)
    index.remove(np.array([5]))
    index.add(np.array([999]), vectors[:1])
    found, got = index.known_vectors(np.array([5, 999, 7]))
    assert found.tolist() == [999, 7] and np.allclose(got[0], vectors[0], atol=1e-6)
    assert index.known_vectors(np.array([12345]))[0].size == 0
