"""Shared fixtures. Tests run offline; those needing ../shared/data are marked ``shared`` and skip
when it is absent (CI has it, so they run there)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = REPO_ROOT / "examples" / "corpus"


def _shared_data() -> Path:
    return Path(os.environ.get("IPQA_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = _shared_data()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set IPQA_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture(scope="session")
def tiny_embedder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random sentence-transformers model directory (BERT, hidden 32, 1 layer; see tests/tiny_models.py).
    Load it with ``indexes.embedder.create_embedder(str(tiny_embedder_dir))`` (languages {"en"})."""
    from tiny_models import build_tiny_sentence_transformer

    return build_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-embedder") / "model")
