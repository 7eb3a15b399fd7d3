"""Similarity of a generated answer to the reference answer: ROUGE-L and BERTScore.

* ROUGE-L (Lin 2004) is the longest common subsequence of the two token sequences, as precision,
  recall and F1. Chinese is tokenised into jieba words (a character-level LCS would reward any two
  texts about the same law for sharing 的/了/专利), English into lower-cased words; punctuation is
  not a token.
* BERTScore (Zhang et al. 2020) greedily matches each token to its most similar token of the other
  text by the cosine of contextual embeddings: precision averages over the candidate's tokens, recall
  over the reference's. Any transformers encoder from a local directory works (no idf weighting, no
  baseline rescaling, so figures are comparable between runs with the same model only).

Either text empty gives 0: there is nothing in common to measure. BERTScore sees at most the model's
maximum number of positions (``max_length``, default 512) of each text.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ipqa.errors import ConfigError

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_MARKER = re.compile(r"\[\s*\d+(?:\s*[,，、;]\s*\d+)*\s*\]")  # [1], [1, 2]: citation markers are not content


@dataclass(frozen=True)
class Overlap:
    precision: float
    recall: float
    f1: float


ZERO = Overlap(0.0, 0.0, 0.0)


class RougeTokenizer:
    """Words for ROUGE: jieba words for Chinese runs, lower-cased words and numbers otherwise."""

    def __init__(self) -> None:
        self._jieba: Any = None
        self._lock = threading.Lock()

    def _segmenter(self) -> Any:
        with self._lock:
            if self._jieba is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                self._jieba = jieba.Tokenizer()  # own instance: no shared global dictionary state
            return self._jieba

    def __call__(self, text: str) -> list[str]:
        tokens: list[str] = []
        for piece in _WORD.findall(_MARKER.sub(" ", text or "")):
            if _CJK.match(piece):
                tokens.extend(self._segmenter().lcut(piece, HMM=False))
            else:
                tokens.append(piece.lower())
        return tokens


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (one DP row: O(len(a)·len(b)) time, O(len(b)) memory)."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l_tokens(candidate: Sequence[str], reference: Sequence[str]) -> Overlap:
    lcs = lcs_length(candidate, reference)
    if lcs == 0:
        return ZERO
    precision, recall = lcs / len(candidate), lcs / len(reference)
    return Overlap(precision, recall, 2 * precision * recall / (precision + recall))


def rouge_l(candidate: str, reference: str, tokenizer: RougeTokenizer | None = None) -> Overlap:
    """ROUGE-L of ``candidate`` against ``reference`` (F1 is the usual headline figure)."""
    tokenizer = tokenizer or RougeTokenizer()
    return rouge_l_tokens(tokenizer(candidate), tokenizer(reference))


class BertScorer:
    """BERTScore with greedy matching over the last hidden layer of a local transformers encoder.

    ``model_path`` is a transformers model directory, or a sentence-transformers directory whose
    first module is the transformer (its weights then sit in the directory itself).
    """

    def __init__(self, model_path: Path | str, *, device: str = "auto", max_length: int = 512) -> None:
        path = Path(model_path)
        if not path.is_dir():
            raise ConfigError(f"BERTScore model path {str(path)!r} is not a directory")
        self.model_path = path
        self.device = device
        self.max_length = max_length
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"bertscore:{self.model_path.name}"

    def _loaded(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModel, AutoTokenizer

                try:
                    tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
                    model = AutoModel.from_pretrained(self.model_path, local_files_only=True)
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"cannot load the BERTScore model {str(self.model_path)!r}: {exc}") from exc
                device = self.device
                if device == "auto":
                    device = "cuda" if torch.cuda.is_available() else "cpu"
                model.to(device)
                model.eval()
                self._model, self._tokenizer = model, tokenizer
            return self._model, self._tokenizer

    def _token_vectors(self, text: str) -> Any:
        """L2-normalised contextual vectors of the text's tokens, special tokens left out."""
        import torch

        model, tokenizer = self._loaded()
        # Never feed more positions than the model has: a longer text is scored on its first part.
        limit = min(self.max_length, getattr(model.config, "max_position_embeddings", None) or self.max_length)
        encoded = tokenizer(text, return_tensors="pt", truncation=True, max_length=limit,
                            return_special_tokens_mask=True)
        special = encoded.pop("special_tokens_mask")[0].bool()
        encoded = {k: v.to(model.device) for k, v in encoded.items()}
        with torch.no_grad():
            hidden = model(**encoded).last_hidden_state[0]
        vectors = hidden[~special.to(hidden.device)]
        return torch.nn.functional.normalize(vectors.float(), dim=-1)

    def score(self, candidate: str, reference: str) -> Overlap:
        if not (candidate or "").strip() or not (reference or "").strip():
            return ZERO
        cand = self._token_vectors(_MARKER.sub(" ", candidate))
        ref = self._token_vectors(reference)
        if len(cand) == 0 or len(ref) == 0:
            return ZERO
        similarity = cand @ ref.T  # cosine: rows are unit vectors
        precision = float(similarity.max(dim=1).values.mean())
        recall = float(similarity.max(dim=0).values.mean())
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return Overlap(precision, recall, f1)
