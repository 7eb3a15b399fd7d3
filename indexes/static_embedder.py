"""Static (bag-of-token) embedders: the model family ipqa trains itself for languages no downloadable
model serves here (Chinese).

A static embedder is a token-embedding table and mean pooling (sentence-transformers'
``StaticEmbedding``, as in model2vec and ``static-retrieval-mrl``): no attention, so a query costs a
tokenizer call and a few hundred table lookups — microseconds on a CPU — and a whole index of 66,000
Chinese articles embeds in seconds. What it loses against a transformer (word order) matters little
for matching questions to statutes; what it learns (which words of lay questions go with which words
of articles: 起诉/多久 with 诉讼时效, 山寨 with 假冒) is what BM25 cannot know.

The model directory is a normal sentence-transformers directory (``SentenceTransformer(path)`` loads
it), plus ``ipqa_embedder.json`` that says which languages it serves and which format it was written
in. Inference here needs neither torch nor sentence-transformers (the table is read with safetensors'
numpy API and the tokenizer with ``tokenizers``): a one-shot Chinese search does not pay their import.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ipqa.errors import ConfigError

FAMILY = "static"
FORMAT_VERSION = 1
METADATA_FILE = "ipqa_embedder.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
_KNOWN_LANGUAGES = frozenset({"zh", "en"})


@dataclass(frozen=True)
class TrainedModelInfo:
    """What ``ipqa_embedder.json`` says about a model directory ``ipqa train embedder`` wrote: its
    family (``static`` here, ``adapted-transformer`` in :mod:`indexes.transformer_training`), format
    and languages, and how it was trained."""

    family: str
    format_version: int
    languages: frozenset[str]
    extra: dict[str, Any]

    @classmethod
    def read(cls, model_dir: Path, *, family: str = FAMILY, format_version: int = FORMAT_VERSION) -> "TrainedModelInfo":
        """The metadata of a model of ``family`` written in ``format_version``; anything else (another
        family, another format, no metadata, languages outside ipqa's) is a ``ConfigError`` naming it."""
        path = model_dir / METADATA_FILE
        if not path.is_file():
            raise ConfigError(f"embedder model directory {model_dir}: no {METADATA_FILE} (not a model written by "
                              "`ipqa train embedder`)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"embedder model directory {model_dir}: {METADATA_FILE} is unreadable: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"embedder model directory {model_dir}: {METADATA_FILE} is not a JSON object")
        found_family = raw.get("family")
        version = raw.get("format_version")
        languages = frozenset(raw.get("languages") or ())
        if found_family != family:
            raise ConfigError(f"embedder model directory {model_dir}: family {found_family!r} in {METADATA_FILE}, "
                              f"expected {family!r}")
        if version != format_version:
            raise ConfigError(f"embedder model directory {model_dir}: written in format {version!r}, this ipqa "
                              f"reads format {format_version}; retrain it with `ipqa train embedder`")
        if not languages or not languages <= _KNOWN_LANGUAGES:
            raise ConfigError(f"embedder model directory {model_dir}: languages {sorted(languages)} in "
                              f"{METADATA_FILE}; expected a non-empty subset of {sorted(_KNOWN_LANGUAGES)}")
        return cls(found_family, int(version), languages, {k: v for k, v in raw.items()
                                                            if k not in {"family", "format_version", "languages"}})

    def write(self, model_dir: Path) -> None:
        payload = {"family": self.family, "format_version": self.format_version,
                   "languages": sorted(self.languages), **self.extra}
        (model_dir / METADATA_FILE).write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n",
                                               encoding="utf-8")


def static_module_dir(model_dir: Path) -> Path:
    """Where the ``StaticEmbedding`` module's files are, as ``modules.json`` says (sentence-transformers
    writes a lone module at the top, older versions in ``0_StaticEmbedding/``)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"embedder model directory {model_dir}: modules.json is missing or unreadable: {exc}") from exc
    static = [m for m in modules if str(m.get("type", "")).endswith("StaticEmbedding")]
    if len(modules) != 1 or not static:
        raise ConfigError(f"embedder model directory {model_dir}: expected one StaticEmbedding module in "
                          f"modules.json, found {[m.get('type') for m in modules]}")
    return model_dir / str(static[0].get("path") or "")


def is_static_model_dir(path: Path) -> bool:
    return (path / METADATA_FILE).is_file() and (path / "modules.json").is_file()


class StaticEmbedder:
    """An :class:`indexes.protocols.Embedder` over a trained static model directory.

    Output: float32 ``[n, dimension]``, L2-normalised. Thread-safe (read-only numpy and a Rust
    tokenizer). ``expect_language`` refuses a model that does not serve that language.
    """

    def __init__(self, model_dir: Path, *, expect_language: str | None = None, max_tokens: int = 512) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir).expanduser().resolve()
        info = TrainedModelInfo.read(model_dir)
        if expect_language is not None and expect_language not in info.languages:
            raise ConfigError(f"embedder model directory {model_dir} serves {sorted(info.languages)}, not "
                              f"{expect_language!r}")
        module_dir = static_module_dir(model_dir)
        weights_path = module_dir / WEIGHTS_FILE
        tokenizer_path = module_dir / TOKENIZER_FILE
        for path in (weights_path, tokenizer_path):
            if not path.is_file():
                raise ConfigError(f"embedder model directory {model_dir}: missing {path.relative_to(model_dir)}")
        tensors = load_file(str(weights_path))
        table = tensors.get("embedding.weight")
        if table is None or table.ndim != 2:
            raise ConfigError(f"embedder model directory {model_dir}: {weights_path.name} holds no 2-d "
                              "'embedding.weight' table")
        self._table = np.ascontiguousarray(table, dtype=np.float32)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._max_tokens = max_tokens
        self.model_dir = model_dir
        self.languages = info.languages
        self.dimension = int(self._table.shape[1])
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()[:12]
        self.name = f"static:{model_dir}#{digest}"
        self.info = info

    def __repr__(self) -> str:
        return f"StaticEmbedder({self.model_dir}, dimension={self.dimension}, languages={sorted(self.languages)})"

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [encoding.ids[:self._max_tokens]
                for encoding in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_query/encode_document take a sequence of texts, not one string")
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, ids in enumerate(self.token_ids(texts)):
            if ids:
                out[row] = self._table[ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)
