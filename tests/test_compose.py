"""The composition root (rag/compose.py): what each setting turns into."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipqa.errors import ConfigError
from ipqa.settings import Settings
from rag import compose


def settings(tmp_path: Path, **values) -> Settings:
    return Settings(data_dir=tmp_path, **values)


def test_build_options_take_the_settings_and_only_given_overrides(tmp_path):
    options = compose.build_options(settings(tmp_path, ingest_jobs=3, dense_index="hnsw", bm25_k1=1.5,
                                             keep_versions=2), jobs=None, keep_versions=5)
    assert (options.jobs, options.dense_kind, options.bm25_k1, options.keep_versions) == (3, "hnsw", 1.5, 5)
    with pytest.raises(TypeError):
        compose.build_options(settings(tmp_path), job=2)  # a misspelled override is not dropped


def test_one_shot_commands_get_a_deferred_embedder_with_the_serving_thread_count(tmp_path):
    one_shot = compose.embedder_options(settings(tmp_path, torch_threads=1), one_shot=True)
    serving = compose.embedder_options(settings(tmp_path, torch_threads=1))
    assert one_shot.deferred and one_shot.torch_threads == 1 and one_shot.query_runtime == "torch"
    assert not serving.deferred and serving.torch_threads is None and serving.query_runtime == "auto"
    assert one_shot.query_encoder_cache == serving.query_encoder_cache == tmp_path / "cache" / "query-encoders"
    forced = compose.embedder_options(settings(tmp_path, embed_query_runtime="torch"), one_shot=True)
    assert forced.query_encoder_cache is None  # torch asked for: no torch-free encoder is saved or used
    assert compose.embedder_options(settings(tmp_path, embed_query_runtime="onnx"), one_shot=True).query_runtime == "onnx"


def test_only_model_backends_make_a_command_configure_torch(tmp_path):
    assert not compose.models_use_torch(settings(tmp_path), answering=True)  # ltr/none, extractive, lexical
    assert compose.models_use_torch(settings(tmp_path, reranker_path=tmp_path), answering=False)  # auto -> cross-encoder
    assert compose.models_use_torch(settings(tmp_path, generator="local"), answering=True)
    assert not compose.models_use_torch(settings(tmp_path, generator="local"), answering=False)
    # searching never builds a generator, so a bad generator name does not stop a search
    assert not compose.models_use_torch(settings(tmp_path, generator="gpt"), answering=False)
    with pytest.raises(ConfigError, match="unknown generator 'gpt'"):
        compose.models_use_torch(settings(tmp_path, generator="gpt"), answering=True)


def test_generator_and_judge_options_come_from_the_settings(tmp_path):
    options = compose.generator_options(settings(tmp_path, max_new_tokens=64, openai_model="m"), temperature=0.5)
    assert (options.max_new_tokens, options.openai_model, options.temperature) == (64, "m", 0.5)
    assert compose.build_judge(settings(tmp_path)).name == "lexical"
    with pytest.raises(ConfigError, match="IPQA_SUPPORT_JUDGE_PATH"):
        compose.build_judge(settings(tmp_path, support_judge="nli"))
    assert compose.judge_options(settings(tmp_path, support_judge_path=tmp_path)).model_path == tmp_path
    assert compose.default_ltr_model_path(settings(tmp_path)) == tmp_path / "models" / "ltr"


def test_one_shot_commands_check_index_files_by_size_and_servers_by_checksum(tmp_path, monkeypatch):
    import indexes.snapshot

    opened = []

    class Snapshot:
        def close(self):
            opened.append("closed")

    def fake_open(index_root, *, embedder, version=None, verify_checksums=True):
        opened.append((verify_checksums, type(embedder).__name__))
        return Snapshot()

    monkeypatch.setattr(indexes.snapshot, "open_snapshot", fake_open)
    with compose.open_index(settings(tmp_path), one_shot=True):
        pass
    with compose.open_index(settings(tmp_path, embed_query_runtime="torch"), one_shot=True):
        pass
    assert opened == [(False, "DeferredEmbedder"), "closed", (False, "DeferredEmbedder"), "closed"]


def test_settings_are_constructed_only_at_entry_points():
    """Below the entry points nothing reads the environment: ``Settings(...)`` is called only in the
    commands (``cli.py``, ``*_cli.py``), the API's app factory and `python -m` scripts."""
    import ast

    repo = Path(__file__).resolve().parent.parent
    entry_points = {"api/app.py", "ingest/cn_law_check.py"}  # create_app_from_environment; a `python -m` script
    callers = set()
    for package in ("ipqa", "ingest", "indexes", "rag", "api", "evals"):
        for path in (repo / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Settings":
                    callers.add(path.relative_to(repo).as_posix())
    assert callers, "the scan finds the commands' Settings() calls"
    misplaced = sorted(c for c in callers if c not in entry_points and not c.endswith(("/cli.py", "_cli.py")))
    assert not misplaced, f"Settings() constructed below the entry points: {misplaced}"
