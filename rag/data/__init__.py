"""Data files shipped with rag: the question-type seed set and the IP practitioners' training questions."""

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def default_ip_questions() -> Path:
    """``rag/data/ip_questions.jsonl``: the IP questions written for training (docs/ip-questions.md)."""
    return _HERE / "ip_questions.jsonl"
