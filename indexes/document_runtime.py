"""What runs a sentence-transformers model when an index build embeds documents (chunks).

Why: embedding the 15,363 English chunks of ../shared/data with MiniLM in torch fp32 was ~95% of a
cold rebuild (17 min on the idle 2-core box, 41-55 min under load). Measured on 200-1,000 real English
chunks (``benchmarks/document_encoding.py``, figures in docs/benchmarks.md):

* ``torch-bf16``: the same torch model under bfloat16 autocast. On a CPU with native bf16
  (AVX512-BF16 or AMX) about 2x the chunks per CPU-second of fp32, and the vectors agree with fp32 to
  a cosine of 0.99997 or better - the fastest runtime that keeps the vectors. Emulated bf16 (no
  native instructions) is slower than fp32, so it is refused there.
* ``onnx-int8``: the transformer exported to ONNX and its matrix products dynamically quantised to
  int8 (per channel) - about as fast as bf16 on this CPU but cosine 0.988-0.994 to fp32; kept as a
  choice for CPUs without bf16 (check recall before using it).
* ``torch``: fp32, as before. fp32 ONNX Runtime measured no faster than torch for long batches.

Every runtime's vectors are cached under the model name plus a tag (:attr:`DocumentEncoder.tag`:
``@bf16``, ``@onnx-int8``; none for fp32), so vectors of one runtime never stand in for another's,
while the index's embedder name (what queries must match) stays the model's.

``auto``: ``torch-bf16`` on a CPU with native bf16, else ``torch``. Whatever is chosen must agree with
the fp32 vectors of probe documents (minimum cosine per runtime, below) before it is used; under
``auto`` a runtime that cannot be used falls back to ``torch`` with the reason kept
(:attr:`ChosenRuntime.reason`); a runtime asked for by name that cannot be used is a ConfigError.

Both non-fp32 runtimes also sort texts by token count before batching, so a batch is padded to
the length of similar texts (1.23x padded tokens in build order, ~1.0x sorted).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from ipqa.errors import ConfigError
from ipqa.registry import Registry

__all__ = ["DOCUMENT_RUNTIMES", "ChosenRuntime", "DocumentEncoder", "DocumentRuntimeOptions",
           "UnsupportedRuntime", "choose_document_runtime", "document_runtime_registry", "native_bf16_problem"]

logger = logging.getLogger(__name__)

DOCUMENT_RUNTIMES = ("auto", "torch", "torch-bf16", "onnx-int8")

# Least cosine to the fp32 vectors of every probe document. Observed with MiniLM on 200 real English
# chunks: bf16 min 0.99997; int8 min 0.9876, mean 0.9940. The margins leave room for other models.
MIN_COSINE = {"torch-bf16": 0.999, "onnx-int8": 0.97}

# Probe documents: short, medium and longer than MiniLM's 256-token window (truncation exercised).
_SENTENCE = ("Whoever without authority makes, uses, offers to sell, or sells any patented invention, "
             "within the United States or imports into the United States any patented invention during "
             "the term of the patent therefor, infringes the patent. ")
PROBE_DOCUMENTS = ("A patent shall be granted for any new and useful process.",
                   _SENTENCE * 2,
                   _SENTENCE * 10)


class UnsupportedRuntime(Exception):
    """This runtime cannot encode this model's documents here; the message says why."""


@dataclass(frozen=True)
class DocumentRuntimeOptions:
    """What a document runtime is built from: the loaded ``SentenceTransformer``, the device it is
    on, and the threads an ONNX Runtime session may use."""

    model: Any = None
    device: str = "cpu"
    threads: int = 1


class DocumentEncoder(Protocol):
    runtime: str  # its registry name
    tag: str  # appended to the model name to key its vectors in the cache ("" = the fp32 vectors)

    def encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        """float32 ``[len(texts), dimension]``, L2-normalised, in the order of ``texts``."""


def _normalised(vectors: Any) -> np.ndarray:
    array = np.asarray(vectors, dtype=np.float32)
    return array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)


class _LengthSortedBatches:
    """Encodes texts sorted by token count (longest first), ``batch_size`` at a time, on ``workers``
    threads that each run one batch single-threaded, and puts the vectors back in order.

    Why threads over batches rather than threads inside each matrix product: on the shared 2-core box
    (load ~3) MiniLM in bf16 encoded 18 chunks/s with 2 torch threads per product and 24-25/s with one
    thread per batch (the threads of one product wait for each other whenever another process holds a
    core). Token counts come from a private copy of the tokenizer, and the first batch runs before
    the others start, so the model's tokenizer has its settings before it is shared (a fast
    tokenizer whose padding/truncation settings change under two threads fails)."""

    def __init__(self, model: Any, workers: int) -> None:
        import copy

        self._counter = copy.deepcopy(model.tokenizer)
        self._max_length = model.max_seq_length
        self.workers = max(1, workers)

    def _token_counts(self, texts: list[str]) -> np.ndarray:
        encoded = self._counter(texts, add_special_tokens=True, truncation=True, max_length=self._max_length)
        return np.array([len(ids) for ids in encoded["input_ids"]], dtype=np.int64)

    def encode(self, texts: list[str], prompt: str, batch_size: int, encode_batch: Callable[[list[str]], Any],
               worker_setup: Callable[[], None] | None = None) -> np.ndarray:
        """``worker_setup``: run in each worker thread before its first batch."""
        order = np.argsort(-self._token_counts([prompt + text for text in texts]), kind="stable")
        batches = [order[start:start + batch_size] for start in range(0, len(texts), batch_size)]
        results: list[np.ndarray | None] = [None] * len(batches)

        def run(index: int) -> None:
            results[index] = _normalised(encode_batch([texts[i] for i in batches[index]]))

        run(0)
        if self.workers > 1 and len(batches) > 2:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.workers, thread_name_prefix="ipqa-embed", initializer=worker_setup) as pool:
                list(pool.map(run, range(1, len(batches))))
        else:
            for index in range(1, len(batches)):
                run(index)
        out = np.zeros((len(texts), results[0].shape[1]), dtype=np.float32)  # type: ignore[union-attr]
        for rows, vectors in zip(batches, results):
            out[rows] = vectors
        return out


class TorchDocumentEncoder:
    """sentence-transformers' own ``encode_document`` in fp32: the reference vectors."""

    runtime = "torch"
    tag = ""

    def __init__(self, model: Any) -> None:
        self._model = model

    def encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        return _normalised(self._model.encode_document(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False, prompt=prompt))


class Bf16DocumentEncoder:
    """The torch model under bfloat16 autocast (weights stay fp32; matrix products run in bf16)."""

    runtime = "torch-bf16"
    tag = "@bf16"

    def __init__(self, model: Any, device: str, threads: int) -> None:
        self._model = model
        self._device_type = "cuda" if device.startswith("cuda") else "cpu"
        self._batches = _LengthSortedBatches(model, threads if self._device_type == "cpu" else 1)

    def _encode_batch(self, texts: list[str], prompt: str) -> np.ndarray:
        import torch

        with torch.autocast(self._device_type, dtype=torch.bfloat16):
            vectors = self._model.encode_document(texts, batch_size=len(texts), convert_to_tensor=True,
                                                  show_progress_bar=False, prompt=prompt)
        return vectors.float().cpu().numpy()  # normalised in float32, not in bf16

    def encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        import torch

        threads = torch.get_num_threads()
        try:  # one torch thread in each worker (OpenMP's thread count is per calling thread)
            return self._batches.encode(texts, prompt, batch_size, lambda batch: self._encode_batch(batch, prompt),
                                        worker_setup=lambda: torch.set_num_threads(1))
        finally:
            torch.set_num_threads(threads)  # as it was for this thread (and for MKL, whose count is global)


class OnnxInt8DocumentEncoder:
    """The transformer in ONNX Runtime with int8 dynamically quantised matrix products; the model's
    own pooling/normalisation modules finish the vectors (:class:`indexes.onnx_query.OnnxQueryEncoder`)."""

    runtime = "onnx-int8"
    tag = "@onnx-int8"

    def __init__(self, model: Any, threads: int) -> None:
        from indexes.onnx_query import OnnxQueryEncoder, UnsupportedModel

        try:  # one thread per session run: the batches run side by side (_LengthSortedBatches)
            self._onnx = OnnxQueryEncoder(model, threads=1, quantize_int8=True)
        except UnsupportedModel as exc:
            raise UnsupportedRuntime(str(exc)) from exc
        self._batches = _LengthSortedBatches(model, threads)

    def encode(self, texts: list[str], prompt: str, batch_size: int) -> np.ndarray:
        return self._batches.encode(texts, prompt, batch_size, lambda batch: self._onnx.encode(batch, prompt))


def native_bf16_problem(device: str) -> str | None:
    """Why bf16 would not be fast on ``device`` (None: it has native bf16)."""
    import torch

    if device.startswith("cuda"):
        return None if torch.cuda.is_bf16_supported() else f"{device} does not support bfloat16"
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if any(check is not None and check() for check in checks):
        return None
    return "this CPU has no native bfloat16 instructions (AVX512-BF16 or AMX): emulated bf16 is slower than fp32"


def document_runtime_registry() -> Registry[DocumentEncoder, DocumentRuntimeOptions]:
    """Document runtimes by name (built per call; nothing loads until one is created)."""
    registry: Registry[DocumentEncoder, DocumentRuntimeOptions] = Registry("embed runtime",
                                                                           DocumentRuntimeOptions)

    @registry.register("torch")
    def _torch(options: DocumentRuntimeOptions) -> DocumentEncoder:
        return TorchDocumentEncoder(options.model)

    @registry.register("torch-bf16")
    def _bf16(options: DocumentRuntimeOptions) -> DocumentEncoder:
        problem = native_bf16_problem(options.device)
        if problem:
            raise UnsupportedRuntime(problem)
        return Bf16DocumentEncoder(options.model, options.device, options.threads)

    @registry.register("onnx-int8")
    def _int8(options: DocumentRuntimeOptions) -> DocumentEncoder:
        if options.device != "cpu":
            raise UnsupportedRuntime(f"ONNX Runtime int8 runs on the CPU; the model is on {options.device}")
        return OnnxInt8DocumentEncoder(options.model, options.threads)

    @registry.register_resolver("auto")
    def _auto(options: DocumentRuntimeOptions) -> str:
        return "torch-bf16" if options.device == "cpu" and native_bf16_problem("cpu") is None else "torch"

    return registry


@dataclass(frozen=True)
class ChosenRuntime:
    """The document encoder in use and, when it is not the one asked for (``auto`` fell back), why."""

    encoder: DocumentEncoder
    reason: str = ""


def check_agreement(encoder: DocumentEncoder, reference: Callable[[list[str]], np.ndarray], prompt: str,
                    batch_size: int) -> float:
    """The least cosine between ``encoder``'s and ``reference``'s (fp32) vectors of the probe
    documents; :class:`UnsupportedRuntime` when below the runtime's :data:`MIN_COSINE`."""
    documents = list(PROBE_DOCUMENTS)
    expected = _normalised(reference(documents))
    got = encoder.encode(documents, prompt, batch_size)
    if expected.shape != got.shape:
        raise UnsupportedRuntime(f"its vectors have shape {got.shape}, fp32 torch's {expected.shape}")
    least = float(np.min(np.sum(expected * got, axis=1)))
    wanted = MIN_COSINE.get(encoder.runtime, 1.0 - 1e-5)
    if not least >= wanted:
        raise UnsupportedRuntime(f"its vectors agree with fp32 torch's to a cosine of {least:.4f} "
                                 f"(< {wanted}) on the probe documents")
    return least


def choose_document_runtime(wanted: str, options: DocumentRuntimeOptions, *, prompt: str, batch_size: int,
                            model_name: str) -> ChosenRuntime:
    """The document encoder for ``wanted`` (a :data:`DOCUMENT_RUNTIMES` name), checked against fp32
    torch on the probe documents. ``auto`` falls back to ``torch`` with the reason; a runtime asked
    for by name that cannot work is a ConfigError naming the reason."""
    if wanted not in DOCUMENT_RUNTIMES:
        raise ConfigError(f"embed runtime {wanted!r} is unknown; valid: {', '.join(DOCUMENT_RUNTIMES)}")
    registry = document_runtime_registry()
    reference = TorchDocumentEncoder(options.model)
    name = registry.resolve(wanted, options)
    if name == "torch":
        reason = "" if wanted == "torch" else (native_bf16_problem(options.device) or f"the model is on {options.device}")
        return ChosenRuntime(reference, reason)
    try:
        encoder = registry.create(name, options)
        least = check_agreement(encoder, lambda texts: reference.encode(texts, prompt, batch_size), prompt,
                                batch_size)
    except UnsupportedRuntime as exc:
        if wanted != "auto":
            raise ConfigError(f"embedder {model_name}: embed runtime {name!r} cannot be used: {exc}") from exc
        logger.info("embedder %s encodes documents with fp32 torch: %s: %s", model_name, name, exc)
        return ChosenRuntime(reference, f"{name}: {exc}")
    logger.info("embedder %s encodes documents with %s (least probe cosine to fp32 %.5f)", model_name, name, least)
    return ChosenRuntime(encoder)
