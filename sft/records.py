"""The training data on disk: one chat-format example per JSON line, in ``train.jsonl`` and
``validation.jsonl``, with ``stats.json`` beside them. Every line and ``stats.json`` carry
``FORMAT``; a reader refuses data of another format version, naming the file and line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from ipqa.errors import InputError
from ipqa.jsonl import read_jsonl

FORMAT = "ipqa-sft/1"
TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
STATS_FILE = "stats.json"
EXAM_HELDOUT_FILE = "exam-heldout.jsonl"  # the exam fold kept out of training, for `ipqa eval exam`

DIRECTIONS = ("doctrine", "conduct", "case", "drafting", "exam")


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class Example:
    """One kept training example: the prompt exactly as ipqa builds it, and a verified answer."""

    id: str
    direction: str
    language: str
    question_type: str
    question: str
    messages: tuple[Message, ...]
    sources: tuple[str, ...]  # canonical citations of the numbered sources, [1] first
    source_ids: tuple[str, ...]  # their chunk ids in the index the data was built from
    gold: tuple[str, ...]  # the sources the answer rests on
    citations_checked: int  # citations of the answer that ipqa's verifier checked (all verified)
    origin: Mapping[str, Any] = field(default_factory=dict)  # where the example came from

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["messages"] = [asdict(m) for m in self.messages]
        return {"format": FORMAT, **data}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str) -> "Example":
        found = data.get("format")
        if found != FORMAT:
            raise InputError(where, f"format {found!r} is not {FORMAT!r}; rebuild it with `ipqa sft build`")
        try:
            return cls(
                id=str(data["id"]),
                direction=str(data["direction"]),
                language=str(data["language"]),
                question_type=str(data["question_type"]),
                question=str(data["question"]),
                messages=tuple(Message(str(m["role"]), str(m["content"])) for m in data["messages"]),
                sources=tuple(data.get("sources", ())),
                source_ids=tuple(data.get("source_ids", ())),
                gold=tuple(data.get("gold", ())),
                citations_checked=int(data.get("citations_checked", 0)),
                origin=dict(data.get("origin", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(where, f"not a training example ({exc!r})") from None


def write_examples(path: Path, examples: list[Example]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example.as_json(), ensure_ascii=False) + "\n")


def read_examples(path: Path) -> Iterator[Example]:
    """The examples of one JSONL file; a line of another format or a broken line is an InputError
    naming ``path:line``."""
    for where, _, data in read_jsonl(path, "training data"):
        yield Example.from_json(data, where)


def check_data_dir(directory: Path) -> dict[str, Any]:
    """``stats.json`` of a data directory written by ``ipqa sft build``; refuses a directory that
    is missing, lacks the files, or was written in another format version."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(str(directory), "is not a directory of training data (run `ipqa sft build --out DIR`)")
    stats_path = directory / STATS_FILE
    if not stats_path.is_file() or not (directory / TRAIN_FILE).is_file():
        raise InputError(str(directory), f"has no {STATS_FILE} and {TRAIN_FILE}: not written by `ipqa sft build`")
    try:
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(str(stats_path), f"not JSON ({exc})") from None
    if not isinstance(stats, dict) or stats.get("format") != FORMAT:
        found = stats.get("format") if isinstance(stats, dict) else None
        raise InputError(str(stats_path), f"format {found!r} is not {FORMAT!r}; rebuild it with `ipqa sft build`")
    return stats
