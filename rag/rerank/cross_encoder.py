"""Reranking with a sentence-transformers ``CrossEncoder`` loaded from a local directory.

The cross-encoder reads the question and each candidate's text together, so it sees what BM25
cannot (negation, who does what to whom). Only local models: nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from ipqa.domain import Hit
from ipqa.errors import ConfigError


def _passage(hit: Hit) -> str:
    # The citation names the law and the article: the model sees which provision it is reading.
    return f"{hit.chunk.citation}\n{hit.chunk.text}"


class CrossEncoderReranker:
    name = "cross-encoder"

    def __init__(self, model_dir: Path, *, device: str = "cpu", batch_size: int = 32,
                 max_length: int | None = 512) -> None:
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise ConfigError(f"cross-encoder model directory {model_dir}: no config.json there")
        from sentence_transformers import CrossEncoder

        try:
            self._model = CrossEncoder(str(model_dir), device=device, max_length=max_length,
                                       local_files_only=True, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cross-encoder model directory {model_dir}: cannot load it: {exc}") from exc
        self.batch_size = batch_size
        self.model_dir = model_dir

    def serves(self, query: str) -> bool:
        return True  # a cross-encoder scores any pair; its languages are the operator's choice

    def rerank(self, query: str, hits: Sequence[Hit], k: int) -> list[Hit]:
        if not hits:
            return []
        scores = self._model.predict([(query, _passage(hit)) for hit in hits], batch_size=self.batch_size,
                                     show_progress_bar=False, convert_to_numpy=True)
        scores = [float(s) for s in scores.reshape(len(hits), -1)[:, 0]]
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], i))[:k]
        return [replace(hits[i], score=scores[i], rank=rank, source="rerank",
                        component_scores={**hits[i].component_scores, "cross_encoder": scores[i]})
                for rank, i in enumerate(order, start=1)]
