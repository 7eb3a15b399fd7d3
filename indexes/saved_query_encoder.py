"""Queries encoded without torch: a saved ONNX export of the embedder's transformer, its
``tokenizer.json`` (the ``tokenizers`` library) and mean pooling in numpy.

Why: a one-shot English ``ipqa search`` spent 4-5 s of its 6.5 s importing sentence-transformers,
transformers and torch and loading MiniLM, to encode one query. onnxruntime and tokenizers import
in ~0.2 s; the query's vector is the same (checked, see below).

How: a process that has the model loaded writes the encoder once to a cache directory
(``<data_dir>/cache/query-encoders/<key>/``: ``model.onnx``, ``tokenizer.json``, ``encoder.json``);
later processes find it by key and never load the model for a query.

When it is trusted:

* the key hashes the embedder's name (a model directory's name already hashes its configuration),
  every model file's path, size and modification time, and the query prompt and length overrides:
  a different or changed model gets another key;
* only the plain shape is saved: a Transformer followed by mean pooling (prompt included) and an
  optional Normalize; anything else keeps the model path;
* it is written to a temporary directory, reloaded from there, and must reproduce the torch vectors
  of the probe queries (1e-4) before it is renamed into place; a saved encoder that cannot be read
  is removed (that command loads the model, which saves a good one again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

FORMAT = 1
_ONNX, _TOKENIZER, _META = "model.onnx", "tokenizer.json", "encoder.json"
_PROBES = ("patent term", "Is making and selling a patented invention without authority an infringement?")
_TOLERANCE = 1e-4


def encoder_key(model_dir: Path, *, name: str, query_prompt: str | None, max_seq_length: int | None) -> str:
    """The cache key of the query encoder of the model in ``model_dir`` as configured."""
    digest = hashlib.sha256(f"{FORMAT}\x1f{name}\x1f{query_prompt!r}\x1f{max_seq_length!r}".encode())
    for path in sorted(p for p in Path(model_dir).rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"\x1f{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def plain_pooling(model_dir: Path) -> bool | None:
    """For a Transformer + mean pooling (+ Normalize) model: whether it normalises; else None."""
    try:
        modules = json.loads((Path(model_dir) / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        config = json.loads((Path(model_dir) / modules[1].get("path", "") / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError, IndexError):
        return None
    if "pooling_mode" in config:  # sentence-transformers >= 6
        mean_only = config["pooling_mode"] in ("mean", ["mean"])
    else:
        modes = [key for key, value in config.items() if key.startswith("pooling_mode_") and value]
        mean_only = modes == ["pooling_mode_mean_tokens"]
    if not mean_only or config.get("include_prompt", True) is not True:
        return None
    return len(kinds) == 3


class SavedQueryEncoder:
    """Encodes queries from a saved encoder directory; output float32 ``[n, dimension]``, L2-normalised."""

    def __init__(self, directory: Path, *, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        meta = json.loads((directory / _META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{directory}: saved query encoder format {meta.get('format')!r}, expected {FORMAT}")
        self.prompt: str = meta["prompt"]
        self.dimension: int = int(meta["dimension"])
        self._normalize_module: bool = bool(meta["normalize"])
        self._inputs: list[str] = list(meta["inputs"])
        self._tokenizer = Tokenizer.from_file(str(directory / _TOKENIZER))
        self._tokenizer.enable_truncation(int(meta["max_length"]))
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self._session = onnxruntime.InferenceSession(str(directory / _ONNX), options,
                                                     providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One text at a time (no padding: a one-shot command encodes one query)."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            encoding = self._tokenizer.encode(self.prompt + text)
            feeds = {"input_ids": encoding.ids, "attention_mask": encoding.attention_mask,
                     "token_type_ids": encoding.type_ids}
            inputs = {name: np.asarray([feeds[name]], dtype=np.int64) for name in self._inputs}
            (tokens,) = self._session.run(["last_hidden_state"], inputs)
            mask = inputs["attention_mask"][0].astype(np.float32)[:, None] if "attention_mask" in inputs \
                else np.ones((tokens.shape[1], 1), dtype=np.float32)
            vector = (tokens[0] * mask).sum(axis=0) / max(float(mask.sum()), 1e-9)
            if self._normalize_module:
                vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
            vectors[row] = vector
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


def is_saved(cache_dir: Path, key: str) -> bool:
    """Whether an encoder for ``key`` was saved (without loading it)."""
    return (Path(cache_dir) / key / _META).is_file()


def load_saved(cache_dir: Path | None, key: str, *, threads: int = 1) -> SavedQueryEncoder | None:
    """The saved encoder under ``cache_dir/key``, or None (absent or unreadable)."""
    if cache_dir is None:
        return None
    directory = Path(cache_dir) / key
    if not (directory / _META).is_file():
        return None
    try:
        return SavedQueryEncoder(directory, threads=threads)
    except Exception as exc:  # a damaged cache entry only costs the model path, once
        logger.info("removing the unreadable saved query encoder %s: %s", directory, exc)
        shutil.rmtree(directory, ignore_errors=True)  # so that the model saves a good one again
        return None


def save(cache_dir: Path, key: str, *, onnx_model: bytes, model_dir: Path, input_names: Sequence[str],
         max_length: int, prompt: str, dimension: int, reference: Callable[[list[str]], np.ndarray]) -> bool:
    """Write the encoder for ``key`` if the model has the plain shape and the written encoder
    reproduces ``reference`` (the torch query vectors, prompt included). True when written."""
    normalize = plain_pooling(model_dir)
    tokenizer_file = Path(model_dir) / _TOKENIZER
    if normalize is None or not tokenizer_file.is_file():
        return False
    cache_dir = Path(cache_dir)
    target = cache_dir / key
    if is_saved(cache_dir, key):
        return True
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir))
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide it from other users of the data directory
        (staging / _ONNX).write_bytes(onnx_model)
        shutil.copyfile(tokenizer_file, staging / _TOKENIZER)
        meta = {"format": FORMAT, "key": key, "prompt": prompt, "dimension": dimension, "normalize": normalize,
                "inputs": list(input_names), "max_length": max_length}
        (staging / _META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        expected = np.asarray(reference(list(_PROBES)), dtype=np.float32)
        got = SavedQueryEncoder(staging).encode(_PROBES)
        difference = float(np.abs(expected - got).max()) if expected.shape == got.shape else float("inf")
        if not difference <= _TOLERANCE:
            logger.info("not saving the query encoder %s: its vectors differ from torch's by %.2e", key, difference)
            return False
        os.replace(staging, target)
        return True
    except OSError as exc:  # a read-only data directory: the next command loads the model again
        logger.info("cannot save the query encoder under %s: %s", cache_dir, exc)
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)
