"""What the directions read: the index's chunk store, the shared training sets, and the build's options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


STARD_FILE = "stard-train.jsonl"
EXAM_FILE = "patent-agent-exam-2015-2016.jsonl"
TRAINING_SETS = (STARD_FILE, EXAM_FILE)  # the shared sets that are training data, not evaluation sets


def exam_path(shared_data: Path) -> Path:
    return shared_data / "evals" / EXAM_FILE


@dataclass(frozen=True)
class BuildContext:
    store: object  # indexes.store.SqliteChunkStore (read-only)
    shared_data: Path  # the directory holding evals/stard-train.jsonl and the exam file
    seed: int = 0
    per_direction: int = 4000  # most candidates a direction proposes (IP laws come first)
    per_document: int = 60  # most candidates from one statute, patent or judgment (variety)
    exam_holdout: float = 0.25  # share of the exam kept out of training, for evaluation
    support_threshold: float = 0.3  # the verifier's (Settings.support_threshold): cite only what reaches it

    @property
    def stard_path(self) -> Path:
        return self.shared_data / "evals" / STARD_FILE

    @property
    def exam_path(self) -> Path:
        return exam_path(self.shared_data)
