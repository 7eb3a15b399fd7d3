"""Query encoding through ONNX Runtime: the same vectors as sentence-transformers, 2.8x faster for
one short query on a CPU.

Why: encoding one 20-token English query with MiniLM took 12 ms in torch on the 2-core development
box, nearly all of it fixed cost per matrix product (the weights are re-packed on every call; a
2-token query still took 7.5 ms), and it was the largest cost of an English search. ONNX Runtime
packs the weights once when the session is created: 4.4 ms, vectors equal to 1e-7. For batches of
long documents both take the same time (compute-bound), so only queries use it.

How: the sentence-transformers model's transformer (its first module) is exported to ONNX in memory
at load time (about a second; nothing is written to disk, so there is no stale file to invalidate),
and its remaining modules (pooling, dense layers, normalisation) still run in torch on the output.
Only that common shape of model is accepted, and the session must reproduce the torch vectors of two
probe queries (of different lengths, so padding is exercised) before it is used: anything else keeps
the torch path, with the reason.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger(__name__)

QUERY_RUNTIMES = ("auto", "torch", "onnx")
# Modules that may follow the transformer: they only read token embeddings and the attention mask.
_POST_MODULES = frozenset({"Pooling", "Dense", "Normalize"})
_PROBES = ("patent term", "Is making and selling a patented invention without authority an infringement?")
_TOLERANCE = 1e-4  # max abs difference from the torch vectors (observed: ~1e-7)


class UnsupportedModel(Exception):
    """This model cannot be run through ONNX Runtime here; the message says why."""


class OnnxQueryEncoder:
    """Encodes texts like ``SentenceTransformer.encode(texts, prompt=...)`` with its transformer in
    ONNX Runtime. Thread-safe (ONNX Runtime sessions may run concurrently; the torch modules after
    the transformer hold no state)."""

    def __init__(self, model: Any, *, threads: int, keep_export: bool = False, quantize_int8: bool = False) -> None:
        """``model``: a loaded CPU ``SentenceTransformer``. Raises :class:`UnsupportedModel`.
        ``keep_export``: keep the exported ONNX bytes in :attr:`exported` (to save them; the caller
        drops them after). ``quantize_int8``: run int8 dynamically quantised matrix products (document
        encoding, :mod:`indexes.document_runtime`; its vectors only approximate torch's)."""
        try:
            import onnxruntime
        except ImportError as exc:
            raise UnsupportedModel("onnxruntime is not installed") from exc
        modules = list(model)
        first, rest = modules[0], modules[1:]
        if type(first).__name__ != "Transformer" or not hasattr(first, "auto_model"):
            raise UnsupportedModel(f"its first module is {type(first).__name__}, not a text Transformer")
        unknown = [type(m).__name__ for m in rest if type(m).__name__ not in _POST_MODULES]
        if unknown:
            raise UnsupportedModel(f"modules after the transformer that ONNX export does not cover: {unknown}")
        self._model = model
        self._post = rest
        self._tokenizer = model.tokenizer
        self._max_length = model.max_seq_length
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        example = self._tokenized(["probe"])
        exported = _export(first.auto_model, example)
        if quantize_int8:
            exported = _quantized_int8(exported)
        self.input_names: list[str] = list(example)
        self.exported: bytes | None = exported if keep_export else None
        self._session = onnxruntime.InferenceSession(exported, options, providers=["CPUExecutionProvider"])

    def _tokenized(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        encoded = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self._max_length,
                                  return_tensors="np")
        return {name: np.asarray(encoded[name], dtype=np.int64) for name in ("input_ids", "attention_mask",
                                                                               "token_type_ids") if name in encoded}

    def encode(self, texts: Sequence[str], prompt: str = "", *, normalize: bool = False) -> np.ndarray:
        """float32 ``[len(texts), dimension]`` as the model's own modules finish them, L2-normalised
        when ``normalize`` (like ``encode(..., normalize_embeddings=True)``)."""
        import torch

        inputs = self._tokenized([prompt + text for text in texts])
        (token_embeddings,) = self._session.run(["last_hidden_state"], inputs)  # the inputs it was exported with
        features: dict[str, Any] = {"token_embeddings": torch.from_numpy(token_embeddings),
                                    "attention_mask": torch.from_numpy(inputs["attention_mask"])}
        with torch.inference_mode():
            for module in self._post:
                features = module(features)
        vectors = features["sentence_embedding"].numpy().astype(np.float32)
        if normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors

    def check_against(self, reference: Any, prompt: str, *, normalize: bool) -> None:
        """Raise :class:`UnsupportedModel` unless ``encode(texts, prompt, normalize=normalize)``
        reproduces ``reference(texts)`` (the torch path) on the probe queries."""
        expected = np.asarray(reference(list(_PROBES)), dtype=np.float32)
        got = self.encode(_PROBES, prompt, normalize=normalize)
        if expected.shape != got.shape:
            raise UnsupportedModel(f"ONNX output shape {got.shape} differs from torch's {expected.shape}")
        difference = float(np.abs(expected - got).max())
        if not difference <= _TOLERANCE:
            raise UnsupportedModel(f"ONNX vectors differ from torch's by {difference:.2e} (> {_TOLERANCE})")


def _quantized_int8(exported: bytes) -> bytes:
    """``exported`` with its MatMul weights quantised to int8 per output channel (activations
    quantised per batch at run time). Per channel: per-tensor weights measured a mean cosine to the
    fp32 vectors of 0.943 on real chunks, per channel 0.994; other operators stay fp32."""
    import tempfile
    from pathlib import Path

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise UnsupportedModel(f"onnxruntime.quantization is not available: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="ipqa-int8-") as tmp:  # the quantiser works on files
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(exported)
        try:
            logging.disable(logging.WARNING)  # the quantiser logs advice per node to the root logger
            quantize_dynamic(source, target, per_channel=True, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"])
        except Exception as exc:  # any quantiser failure means: not this runtime
            raise UnsupportedModel(f"int8 quantisation failed: {type(exc).__name__}: {exc}") from exc
        finally:
            logging.disable(logging.NOTSET)
        return target.read_bytes()


def _export(transformer: Any, example: dict[str, np.ndarray]) -> bytes:
    """The Hugging Face model as ONNX bytes, with dynamic batch and sequence axes."""
    import torch

    class _LastHiddenState(torch.nn.Module):  # positional inputs in, one tensor out: what export needs
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs))).last_hidden_state

    names = list(example)
    buffer = io.BytesIO()
    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]}
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's tracing notes
            torch.onnx.export(_LastHiddenState(transformer.eval()),
                              tuple(torch.from_numpy(example[n]) for n in names), buffer,
                              input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                              opset_version=17, dynamo=False)
    except Exception as exc:  # any exporter failure means: keep torch
        raise UnsupportedModel(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
    return buffer.getvalue()
