"""Document runtimes (indexes/document_runtime.py) on the tiny test model: the choice, agreement with
fp32 torch within each runtime's stated tolerance, cache keys kept apart, fallback with a reason."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from indexes import document_runtime
from indexes.document_runtime import MIN_COSINE, PROBE_DOCUMENTS, native_bf16_problem
from indexes.embedder import create_embedder
from ipqa.errors import ConfigError

TEXTS = ["A patent shall be granted for any new and useful process.",
         "The term of a patent shall be twenty years from the date on which the application was filed.",
         "Copyright protection subsists in original works of authorship fixed in any tangible medium.",
         "A trademark registration may be renewed every ten years."]
NO_BF16 = native_bf16_problem("cpu")


def _embedder(model_dir: Path, runtime: str):
    return create_embedder(str(model_dir), device="cpu", batch_size=2, document_runtime=runtime)


@pytest.fixture(scope="module")
def int8(tiny_embedder_dir: Path):
    """One int8 embedder for the module (its ONNX export and quantisation take a few seconds)."""
    embedder = _embedder(tiny_embedder_dir, "onnx-int8")
    assert embedder.document_runtime == "onnx-int8"
    return embedder


@pytest.mark.parametrize("runtime", [
    "torch",
    pytest.param("torch-bf16", marks=pytest.mark.skipif(NO_BF16 is not None, reason=str(NO_BF16))),
    "onnx-int8"])
def test_each_runtime_agrees_with_fp32_torch_within_its_stated_tolerance(tiny_embedder_dir: Path, runtime: str,
                                                                         request: pytest.FixtureRequest) -> None:
    reference = _embedder(tiny_embedder_dir, "torch")
    embedder = request.getfixturevalue("int8") if runtime == "onnx-int8" else _embedder(tiny_embedder_dir, runtime)
    texts = [*TEXTS, *PROBE_DOCUMENTS]
    vectors = embedder.encode_document(texts)  # 7 texts of mixed lengths, batches of 2
    assert embedder.document_runtime == runtime
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), embedder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(vectors * reference.encode_document(texts), axis=1)
    assert cosine.min() >= MIN_COSINE.get(runtime, 1 - 1e-5)
    # length sorting and batching are invisible: the vectors come back in the order of the texts
    assert np.allclose(embedder.encode_document(texts[::-1])[::-1], vectors, atol=1e-3)
    assert embedder.encode_document([]).shape == (0, embedder.dimension)
    with pytest.raises(TypeError):
        embedder.encode_document("one string")


def test_the_cache_key_names_the_runtime_whose_vectors_differ(tiny_embedder_dir: Path, int8) -> None:
    torch_embedder = _embedder(tiny_embedder_dir, "torch")
    assert torch_embedder.document_vectors_name == torch_embedder.name  # fp32: the vectors of old
    assert int8.document_vectors_name == int8.name + "@onnx-int8"
    assert int8.name == torch_embedder.name  # same model: an index built with either serves the same queries
    deferred = create_embedder(str(tiny_embedder_dir), device="cpu", document_runtime="onnx-int8", deferred=True)
    assert deferred.document_vectors_name == int8.document_vectors_name


def test_a_build_never_reuses_another_runtimes_vectors(tiny_embedder_dir: Path, int8, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from index_corpus import corpus

    from indexes.build import BuildOptions, build_from_documents

    root = tmp_path / "index"
    torch_embedder = _embedder(tiny_embedder_dir, "torch")
    build_from_documents(root, corpus(), embedder=torch_embedder, options=BuildOptions())
    calls: list[int] = []
    encode = int8.encode_document
    monkeypatch.setattr(int8, "encode_document", lambda texts: (calls.append(len(texts)), encode(texts))[1])
    build_from_documents(root, corpus(), embedder=int8, options=BuildOptions())
    with sqlite3.connect(root / "cache" / "embeddings.sqlite") as connection:
        counts = dict(connection.execute("SELECT model, COUNT(*) FROM embeddings GROUP BY model"))
    assert set(counts) == {torch_embedder.name, int8.document_vectors_name}
    assert sum(calls) == counts[int8.document_vectors_name] > 0  # every int8 vector was encoded, none reused
    manifests = sorted((root / "versions").glob("*/manifest.json"))
    newest = json.loads(manifests[-1].read_text(encoding="utf-8"))
    assert newest["embedder"]["name"] == torch_embedder.name
    assert newest["embedder"]["document_vectors"] == {int8.name: int8.document_vectors_name}


def test_auto_takes_bf16_on_a_cpu_with_it_and_falls_back_to_fp32_with_the_reason(
        tiny_embedder_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if NO_BF16 is None:
        auto = _embedder(tiny_embedder_dir, "auto")
        assert (auto.document_runtime, auto.document_runtime_reason) == ("torch-bf16", "")
        assert auto.document_vectors_name.endswith("@bf16")
    monkeypatch.setattr(document_runtime, "native_bf16_problem", lambda device: "no bfloat16 on this test CPU")
    auto = _embedder(tiny_embedder_dir, "auto")
    assert auto.document_runtime == "torch" and "no bfloat16 on this test CPU" in auto.document_runtime_reason
    assert auto.document_vectors_name == auto.name
    named = _embedder(tiny_embedder_dir, "torch-bf16")
    with pytest.raises(ConfigError, match="'torch-bf16' cannot be used: no bfloat16 on this test CPU"):
        named.encode_document(TEXTS)


def test_a_runtime_whose_vectors_disagree_is_refused_and_auto_keeps_fp32(
        tiny_embedder_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MIN_COSINE, "onnx-int8", 1.5)  # no vectors can agree this well
    monkeypatch.setitem(MIN_COSINE, "torch-bf16", 1.5)
    with pytest.raises(ConfigError, match=r"'onnx-int8' cannot be used: its vectors agree with fp32 torch's "
                                          r"to a cosine of [01]\.\d+ \(< 1\.5\)"):
        _embedder(tiny_embedder_dir, "onnx-int8").encode_document(TEXTS)
    auto = _embedder(tiny_embedder_dir, "auto")
    assert auto.document_runtime == "torch" and auto.document_vectors_name == auto.name
    if NO_BF16 is None:
        assert "torch-bf16: its vectors agree with fp32 torch's" in auto.document_runtime_reason


def test_int8_without_onnxruntime_is_an_error_naming_it(tiny_embedder_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="onnxruntime is not installed"):
        _embedder(tiny_embedder_dir, "onnx-int8").encode_document(TEXTS)


def test_an_unknown_runtime_is_refused_naming_the_valid_ones(tiny_embedder_dir: Path) -> None:
    with pytest.raises(ConfigError, match="'fp8' is unknown; valid: auto, torch, torch-bf16, onnx-int8"):
        create_embedder(str(tiny_embedder_dir), document_runtime="fp8")


def test_the_setting_reaches_the_embedder_and_defaults_to_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    from ipqa.settings import Settings
    from rag.compose import embedder_options

    monkeypatch.delenv("IPQA_EMBED_RUNTIME", raising=False)
    assert embedder_options(Settings()).document_runtime == "auto"
    monkeypatch.setenv("IPQA_EMBED_RUNTIME", "onnx-int8")
    assert embedder_options(Settings()).document_runtime == "onnx-int8"
    monkeypatch.setenv("IPQA_EMBED_RUNTIME", "fp8")
    with pytest.raises(ValueError, match="embed_runtime"):
        Settings()
