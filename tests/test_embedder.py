"""Embedders (tiny random model; the real MiniLM once, slow) and the embeddings cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from indexes.embedder import create_embedder, resolve_device
from indexes.embedding_cache import EmbeddingCache
from indexes.protocols import Embedder
from ipqa.errors import ConfigError

TEXTS = ["A patent shall be granted for any new and useful process.",
         "发明专利权的期限为二十年。",
         "A trademark registration may be renewed every ten years."]


@pytest.fixture(scope="module")
def tiny(tiny_embedder_dir: Path) -> Embedder:
    return create_embedder(str(tiny_embedder_dir), device="cpu", batch_size=2)


@pytest.fixture(scope="module")
def prompted_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import build_tiny_sentence_transformer

    return build_tiny_sentence_transformer(tmp_path_factory.mktemp("prompted") / "model",
                                           prompts={"query": "query: ", "passage": "passage: "})


def test_vectors_are_normalised_float32_and_deterministic(tiny: Embedder) -> None:
    assert isinstance(tiny, Embedder)
    vectors = tiny.encode_document(TEXTS)  # batch_size 2: more texts than one batch
    assert vectors.dtype == np.float32 and vectors.shape == (3, tiny.dimension) and tiny.dimension == 32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(tiny.encode_document(TEXTS[::-1])[::-1], vectors, atol=1e-5)  # batching is invisible
    assert tiny.encode_query([]).shape == (0, 32)
    with pytest.raises(TypeError):
        tiny.encode_query("one string, not a list")


def test_path_embedder_name_is_stable_and_identifies_the_model(tiny_embedder_dir: Path, prompted_dir: Path,
                                                               tiny: Embedder) -> None:
    again = create_embedder(str(tiny_embedder_dir), device="cpu")
    assert again.name == tiny.name
    assert tiny.name.startswith(str(tiny_embedder_dir.resolve()) + "#")
    # a model with other prompts in its configuration gets another name
    assert create_embedder(str(prompted_dir), device="cpu").name.split("#")[1] != tiny.name.split("#")[1]
    assert create_embedder(str(tiny_embedder_dir), document_prompt="passage: ").name != tiny.name


def test_languages_default_to_english_and_follow_configuration(tiny_embedder_dir: Path,
                                                                tiny: Embedder) -> None:
    assert tiny.languages == frozenset({"en"})
    both = create_embedder(str(tiny_embedder_dir), languages=["zh", "en"])
    assert both.languages == frozenset({"zh", "en"})
    with pytest.raises(ConfigError, match="'fr'"):
        create_embedder(str(tiny_embedder_dir), languages=["fr"])


def test_model_prompts_are_applied_to_queries_and_documents(prompted_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    embedder = create_embedder(str(prompted_dir), device="cpu")
    raw = SentenceTransformer(str(prompted_dir), device="cpu")
    text = "patent term"

    def plain(value: str) -> np.ndarray:
        return raw.encode([value], prompt="", normalize_embeddings=True)

    assert (embedder.query_prompt, embedder.document_prompt) == ("query: ", "passage: ")
    assert np.allclose(embedder.encode_query([text]), plain("query: " + text), atol=1e-5)
    assert np.allclose(embedder.encode_document([text]), plain("passage: " + text), atol=1e-5)
    assert not np.allclose(embedder.encode_query([text]), plain(text), atol=1e-3)
    override = create_embedder(str(prompted_dir), device="cpu", query_prompt="Represent this question: ")
    assert np.allclose(override.encode_query([text]), plain("Represent this question: " + text), atol=1e-5)


def test_model_without_prompts_encodes_queries_and_documents_alike(tiny: Embedder) -> None:
    assert np.allclose(tiny.encode_query(TEXTS), tiny.encode_document(TEXTS), atol=1e-6)


def test_missing_or_unknown_embedder_is_a_config_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no-such-model.*minilm"):
        create_embedder("no-such-model")
    with pytest.raises(ConfigError, match=str(tmp_path / "missing")):
        create_embedder(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        create_embedder(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="serves only"):
        create_embedder("minilm", languages=["zh", "en"])


def test_onnx_query_runtime_reproduces_the_torch_vectors(tiny_embedder_dir: Path, prompted_dir: Path) -> None:
    for model_dir in (tiny_embedder_dir, prompted_dir):  # without and with a query prompt
        onnx = create_embedder(str(model_dir), device="cpu", query_runtime="onnx", batch_size=2)  # 2 batches
        reference = create_embedder(str(model_dir), device="cpu", query_runtime="torch")
        assert (onnx.query_runtime, reference.query_runtime) == ("onnx", "torch")
        vectors = onnx.encode_query(TEXTS)
        assert vectors.dtype == np.float32 and vectors.shape == (3, onnx.dimension)
        assert np.allclose(vectors, reference.encode_query(TEXTS), atol=1e-5)
        assert np.allclose(onnx.encode_query(TEXTS[:1]), reference.encode_query(TEXTS[:1]), atol=1e-5)
        assert onnx.encode_query([]).shape == (0, onnx.dimension)
        with pytest.raises(TypeError):
            onnx.encode_query("one string")


def test_without_onnxruntime_auto_keeps_torch_and_onnx_is_an_error(tiny_embedder_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    auto = create_embedder(str(tiny_embedder_dir), device="cpu")
    assert auto.query_runtime == "torch" and auto.encode_query(TEXTS).shape == (3, auto.dimension)
    forced = create_embedder(str(tiny_embedder_dir), device="cpu", query_runtime="onnx")
    for _ in range(2):  # every query, not only the first
        with pytest.raises(ConfigError, match="onnxruntime is not installed"):
            forced.encode_query(TEXTS)
    with pytest.raises(ConfigError, match="valid: auto, torch, onnx"):
        create_embedder(str(tiny_embedder_dir), device="cpu", query_runtime="tensorrt")


def test_onnx_encoder_is_refused_when_its_vectors_differ_from_torch(tiny_embedder_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from indexes.onnx_query import OnnxQueryEncoder, UnsupportedModel

    encoder = OnnxQueryEncoder(SentenceTransformer(str(tiny_embedder_dir), device="cpu"), threads=1)
    with pytest.raises(UnsupportedModel, match="differ"):
        encoder.check_against(lambda texts: np.zeros((len(texts), 32), dtype=np.float32), "", normalize=True)


def test_device_choice() -> None:
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda:0")


def test_embedding_cache_round_trip_by_model_and_hash(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    vectors = {"h1": np.arange(4, dtype=np.float32), "h2": np.ones(4, dtype=np.float32)}
    cache.put_many("model-a", vectors)
    reopened = EmbeddingCache(tmp_path / "embeddings.sqlite")
    found = reopened.get_many("model-a", ["h1", "h2", "h3"])
    assert set(found) == {"h1", "h2"}
    assert found["h1"].dtype == np.float32 and np.array_equal(found["h1"], vectors["h1"])
    assert reopened.get_many("model-b", ["h1"]) == {}  # another model's vectors are not reused
    cache.put_many("model-a", {"h1": np.full(4, 2.0, dtype=np.float32)})  # replaced, not duplicated
    assert np.array_equal(reopened.get_many("model-a", ["h1"])["h1"], np.full(4, 2.0))
    assert reopened.count("model-a") == 2


def test_embedding_cache_write_is_all_or_nothing(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    cache.put_many("m", {"kept": np.ones(3, dtype=np.float32)})
    bad = {"new": np.ones(3, dtype=np.float32), "broken": np.array([1.0, np.nan, 0.0], dtype=np.float32)}
    with pytest.raises(ValueError, match="broken"):
        cache.put_many("m", bad)
    assert set(cache.get_many("m", ["kept", "new", "broken"])) == {"kept"}
    # a crash inside the transaction (simulated: the insert fails half-way) leaves the old content
    with sqlite3.connect(tmp_path / "embeddings.sqlite") as connection:
        connection.execute("CREATE TRIGGER fail BEFORE INSERT ON embeddings WHEN NEW.hash = 'second' "
                           "BEGIN SELECT RAISE(ABORT, 'simulated crash'); END")
    with pytest.raises(sqlite3.DatabaseError, match="simulated crash"):
        cache.put_many("m", {"first": np.ones(3, np.float32), "second": np.ones(3, np.float32)})
    assert set(cache.get_many("m", ["kept", "first", "second"])) == {"kept"}


def test_embedding_cache_serves_a_rebuild_many_keys(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "embeddings.sqlite")
    vectors = {f"h{i}": np.full(2, i, dtype=np.float32) for i in range(1500)}  # > one SELECT batch
    cache.put_many("m", vectors)
    found = cache.get_many("m", list(vectors))
    assert len(found) == 1500 and found["h1499"][0] == 1499


@pytest.mark.slow
def test_real_minilm_finds_the_right_text() -> None:
    embedder = create_embedder("minilm", device="cpu")
    assert embedder.name == "minilm" and embedder.dimension == 384 and embedder.languages == frozenset({"en"})
    assert embedder.query_runtime == "onnx"  # and the same vectors as torch:
    torch_vectors = create_embedder("minilm", device="cpu", query_runtime="torch").encode_query(TEXTS)
    assert np.allclose(embedder.encode_query(TEXTS), torch_vectors, atol=1e-5)
    documents = embedder.encode_document(TEXTS)
    query = embedder.encode_query(["How long does a trademark registration last before renewal?"])
    assert int(np.argmax(documents @ query[0])) == 2
    query = embedder.encode_query(["Can I get a patent on a new manufacturing process?"])
    assert int(np.argmax(documents @ query[0])) == 0


def test_a_deferred_embedder_answers_name_languages_and_dimension_without_loading(tiny_embedder_dir):
    from indexes.embedder import DeferredEmbedder, declared_dimension

    eager = create_embedder(str(tiny_embedder_dir), device="cpu")
    deferred = create_embedder(str(tiny_embedder_dir), device="cpu", deferred=True)
    assert isinstance(deferred, DeferredEmbedder)
    assert (deferred.name, deferred.languages, deferred.dimension) == (eager.name, eager.languages, eager.dimension)
    assert not deferred.loaded  # what an index is checked against at opening needs no model
    assert declared_dimension(tiny_embedder_dir) == eager.dimension == 32
    np.testing.assert_allclose(deferred.encode_query(["patent term"]), eager.encode_query(["patent term"]),
                               atol=1e-6)
    assert deferred.loaded


def test_a_deferred_embedder_refuses_a_model_whose_files_misdeclare_its_dimension(tiny_embedder_dir, tmp_path):
    import json
    import shutil

    from indexes.embedder import DeferredEmbedder, declared_dimension

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_embedder_dir, model_dir)
    modules = json.loads((model_dir / "modules.json").read_text())
    (model_dir / "modules.json").write_text(json.dumps([*modules, {"idx": 9, "name": "9", "path": "",
                                                                   "type": "Mystery"}]))
    assert declared_dimension(model_dir) is None  # a module it cannot read: the model must be loaded to know
    misdeclared = DeferredEmbedder(name="x", languages=frozenset({"en"}), declared_dimension=7,
                                   load=lambda: create_embedder(str(tiny_embedder_dir), device="cpu"))
    assert misdeclared.dimension == 7
    with pytest.raises(ConfigError, match="declares dimension 7, the loaded model has 32"):
        misdeclared.encode_query(["patent"])


def test_embedder_options_are_checked_by_name(tiny_embedder_dir):
    from ipqa.errors import ConfigError
    from ipqa.registry import UnknownOptionError

    with pytest.raises(UnknownOptionError, match="unknown embedder option.*'batchsize'.*valid options: device"):
        create_embedder(str(tiny_embedder_dir), batchsize=2)
    with pytest.raises(ConfigError, match="embed batch size must be >= 1"):
        create_embedder(str(tiny_embedder_dir), batch_size=0)


def test_a_saved_query_encoder_reproduces_the_models_query_vectors(tiny_embedder_dir, tmp_path):
    import sys

    from indexes import saved_query_encoder
    from indexes.embedder import DeferredEmbedder

    cache = tmp_path / "query-encoders"
    texts = ["Is a patented process infringed abroad?", "patent term", "trademark"]
    loaded = create_embedder(str(tiny_embedder_dir), device="cpu", query_runtime="torch",
                             query_encoder_cache=cache)
    assert loaded.save_query_encoder() and len(list(cache.glob("*/model.onnx"))) == 1
    deferred = create_embedder(str(tiny_embedder_dir), device="cpu", deferred=True, query_encoder_cache=cache)
    assert isinstance(deferred, DeferredEmbedder)
    np.testing.assert_allclose(deferred.encode_query(texts), loaded.encode_query(texts), atol=1e-5)
    assert not deferred.loaded  # answered by the saved encoder
    # another model (or a changed one) has another key: it never uses this one
    key = saved_query_encoder.encoder_key(tiny_embedder_dir, name=loaded.name, query_prompt=None, max_seq_length=None)
    assert saved_query_encoder.encoder_key(tiny_embedder_dir, name=loaded.name, query_prompt="query: ",
                                           max_seq_length=None) != key
    assert (cache / key).is_dir()
    # a damaged entry is ignored: the model is loaded instead
    (cache / key / "model.onnx").write_bytes(b"not onnx")
    damaged = create_embedder(str(tiny_embedder_dir), device="cpu", deferred=True, query_encoder_cache=cache)
    np.testing.assert_allclose(damaged.encode_query(texts), loaded.encode_query(texts), atol=1e-5)
    assert damaged.loaded
    # ...and replaced by a good one, which the next command uses
    healed = create_embedder(str(tiny_embedder_dir), device="cpu", deferred=True, query_encoder_cache=cache)
    np.testing.assert_allclose(healed.encode_query(texts), loaded.encode_query(texts), atol=1e-5)
    assert not healed.loaded
    assert "sentence_transformers" in sys.modules


def test_a_model_of_another_shape_gets_no_saved_query_encoder(tiny_embedder_dir, tmp_path):
    import json
    import shutil

    from indexes.saved_query_encoder import plain_pooling

    assert plain_pooling(tiny_embedder_dir) is False  # mean pooling, no Normalize module
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_embedder_dir, model_dir)
    pooling = model_dir / "1_Pooling" / "config.json"
    pooling.write_text(json.dumps({**json.loads(pooling.read_text()), "pooling_mode": "cls"}))
    assert plain_pooling(model_dir) is None
    cache = tmp_path / "cache"
    embedder = create_embedder(str(model_dir), device="cpu", query_runtime="torch", query_encoder_cache=cache)
    assert not embedder.save_query_encoder() and not list(cache.glob("*/model.onnx"))
