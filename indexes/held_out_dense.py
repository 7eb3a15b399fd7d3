"""Dense search by a model that never saw the question: what a reranker learns from on the questions
a dense model was itself trained on.

``ipqa train embedder`` trains, beside the served model, one *held-out model* per fold of its training
questions (``<model>/held-out/fold-<k>``), each without that fold. For a training question of that
file, the dense list a reranker learns from is the one its held-out model gives (cross-fitting, as in
stacking): a score the model earns on an unseen question, like the ones it will get when serving.
The served model's own scores on its training questions are memory (STARD R@10 0.99).

A held-out model's vectors are not in the index: :class:`ExactDenseSearch` embeds the language's
chunks with it (seconds for a static model) and searches them exactly. :class:`WithDenseSearch` is
the index snapshot with that search in place of its own, for the first stage of training only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from indexes.embedder_training import HELD_OUT_DIR
from indexes.protocols import ChunkStore, Embedder, SearchFilters
from indexes.static_embedder import TrainedModelInfo, is_static_model_dir
from indexes.text import detect_language
from ipqa.errors import ConfigError


@dataclass(frozen=True)
class HeldOutModel:
    """One held-out model: its directory, the question files it learned from, and the questions it
    never saw, as ``<file stem>/<id>`` keys (``indexes.embedder_training.question_key``)."""

    directory: Path
    questions: tuple[str, ...]  # the question files' paths as training recorded them
    held_out: frozenset[str]


def held_out_models(model_dir: Path) -> list[HeldOutModel]:
    """The held-out models of a trained model directory, fold order; [] when it has none. A fold
    directory that is not a finished model (an interrupted run) is a ``ConfigError`` naming it."""
    root = Path(model_dir) / HELD_OUT_DIR
    if not root.is_dir():
        return []
    models = []
    for directory in sorted(root.iterdir(), key=lambda p: (len(p.name), p.name)):
        if not directory.is_dir():
            continue
        if not is_static_model_dir(directory):
            raise ConfigError(f"held-out model {directory}: not a finished model; run `ipqa train embedder` again")
        extra = TrainedModelInfo.read(directory).extra
        if not extra.get("questions") or not isinstance(extra.get("held_out"), list):
            raise ConfigError(f"held-out model {directory}: its ipqa_embedder.json names no held-out questions")
        questions = extra["questions"]
        models.append(HeldOutModel(directory, tuple(questions if isinstance(questions, list) else [questions]),
                                   frozenset(map(str, extra["held_out"]))))
    sources = {model.questions for model in models}
    if len(sources) > 1:
        raise ConfigError(f"held-out models under {root} were trained on different question files: {sorted(sources)}")
    return models


class ExactDenseSearch:
    """Exact inner-product search over the chunks of one language, embedded by ``embedder``."""

    def __init__(self, store: ChunkStore, embedder: Embedder, language: str) -> None:
        ids, texts, languages = store.index_rows()
        selected = [i for i, chunk_language in enumerate(languages) if chunk_language == language]
        self.language = language
        self._ids = ids[selected]
        self._vectors = (np.asarray(embedder.encode_document([texts[i] for i in selected]), dtype=np.float32)
                         if selected else np.zeros((0, 1), dtype=np.float32))
        self._embedder = embedder
        self._row_of: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self._ids)

    def cosines(self, query: str, int_ids: Sequence[int]) -> dict[int, float]:
        """The score of ``query`` against each of ``int_ids`` that this language holds."""
        if self._row_of is None:
            self._row_of = {int(i): row for row, i in enumerate(self._ids)}
        rows = [(int(i), self._row_of[int(i)]) for i in int_ids if int(i) in self._row_of]
        if not rows:
            return {}
        vector = np.asarray(self._embedder.encode_query([query]), dtype=np.float32)[0]
        scores = self._vectors[[row for _, row in rows]] @ vector
        return {i: float(score) for (i, _), score in zip(rows, scores)}

    def search_ids(self, query: str, k: int) -> list[tuple[int, float]]:
        """The best ``k`` (int id, score) pairs, best first."""
        if not len(self._ids) or k < 1:
            return []
        vector = np.asarray(self._embedder.encode_query([query]), dtype=np.float32)[0]
        scores = self._vectors @ vector
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((self._ids[top], -scores[top]))]
        return [(int(self._ids[i]), float(scores[i])) for i in top]


class WithDenseSearch:
    """``snapshot`` whose dense search of ``search.language`` is ``search`` (every other call goes to
    the snapshot). Unfiltered searches only: training's first stage searches the whole index."""

    def __init__(self, snapshot: Any, search: ExactDenseSearch) -> None:
        self._snapshot = snapshot
        self._search = search

    def search_dense_ids(self, query: str, k: int, filters: SearchFilters | None = None
                         ) -> list[tuple[int, float]]:
        if detect_language(query) != self._search.language:
            return self._snapshot.search_dense_ids(query, k, filters)
        if filters is not None and not filters.is_empty():
            raise ValueError("WithDenseSearch searches the whole index; filters are not supported")
        return self._search.search_ids(query, k)

    def dense_cosines(self, query: str, int_ids: Sequence[int]) -> dict[int, float]:
        if detect_language(query) != self._search.language:
            return self._snapshot.dense_cosines(query, int_ids)
        return self._search.cosines(query, int_ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._snapshot, name)
