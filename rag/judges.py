"""Support judges: how well a cited text supports a statement, as a score in [0, 1].

``lexical`` (the default, no model needed) is the share of the statement's content words that also
occur in the evidence: jieba words for Chinese, Snowball-stemmed words for English. It catches the
common failure of generated answers (a sentence whose substance appears nowhere in what it cites);
a statement that copies the evidence's words but contradicts it (a negation or modal flipped, a
number or the parties changed) scores 0 by the rules of :mod:`rag.polarity`. ``cross-encoder`` /
``nli`` use a trained sentence-transformers CrossEncoder from a local path.
"""

from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

from ipqa.errors import ConfigError
from ipqa.registry import Registry
from rag.polarity import Conflict, Token, find_conflict
from rag.protocols import SupportJudge

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+[A-Za-z]*|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_MARKER = re.compile(r"\[\s*\d+(?:\s*[,，、;]\s*\d+)*\s*\]")

# Function words that carry no legal substance; kept short on purpose (a longer list starts eating
# words that matter, like 不 / not).
_ZH_STOP = frozenset(
    "的 了 是 在 和 与 及 或 等 对 由 其 之 为 这 那 该 此 将 被 把 也 都 而 并 所 中 上 下 "
    "以 于 从 向 有 个 着 我 你 他 她 它 们 我们 你们 根据 依照 规定 应当 可以 如下 以下 "
    "下列 一 二 三 条 款 项".split()
)
_EN_STOP = frozenset(
    """a an the of to in on at by for with from as is are was were be been being this
that these those it its or and but if then than which who whom whose what when where how such any
each every all some no nor so do does did has have had may might shall should will would can could
must under upon into onto about above below between within without per via also there their they
them he she his her we our you your i me my not""".split()
) - {"not"}


# Words nearly every IP provision contains: finding them in the evidence proves little, so they count
# half (otherwise "专利权的期限为一百年" would be "supported" by any article that says 专利权).
_COMMON_WEIGHT = 0.5
_ZH_COMMON = frozenset(
    "专利 专利权 专利权人 发明 实用新型 外观设计 商标 注册商标 著作权 版权 侵权 侵犯 权利 "
    "权利人 法律 本法 使用 实施 许可 单位 个人 行为".split()
)
_EN_COMMON = frozenset(
    "patent infring trademark copyright law right use mark owner person section titl act claim invent".split()
)


class LexicalJudge:
    """Share of the statement's content tokens found in the evidence."""

    name = "lexical"

    def __init__(self, *, check_polarity: bool = True) -> None:
        """``check_polarity=False`` gives the overlap score alone (for measuring what the checks add)."""
        self.check_polarity = check_polarity
        self._jieba: Any = None
        self._stemmer: Any = None
        self._lock = threading.Lock()

    def _tools(self) -> tuple[Any, Any]:
        with self._lock:
            if self._jieba is None:
                import logging

                import jieba
                import Stemmer

                jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter, not errors
                # jieba's default segmenter, shared with the BM25 tokenizer: its dictionary takes ~1 s
                # and ~100 MB to load, once per process rather than once per judge.
                jieba.initialize()
                self._jieba = jieba.dt
                self._stemmer = Stemmer.Stemmer("english")
            return self._jieba, self._stemmer

    def content_tokens(self, text: str) -> set[str]:
        """The words of ``text`` that carry substance, normalised for matching."""
        jieba_tok, stemmer = self._tools()
        tokens: set[str] = set()
        for piece in _WORD.findall(_MARKER.sub(" ", text)):
            if _CJK.match(piece):
                for word in jieba_tok.lcut(piece, HMM=False):
                    if word not in _ZH_STOP:
                        tokens.add(word)
            else:
                word = piece.lower()
                if word in _EN_STOP or (len(word) == 1 and not word.isdigit()):
                    continue
                tokens.add(stemmer.stemWord(word) if word.isalpha() else word)
        return tokens

    def positioned_tokens(self, text: str) -> list[Token]:
        """The content words of ``text`` with their offsets in it (for :mod:`rag.polarity`)."""
        jieba_tok, stemmer = self._tools()
        masked = _MARKER.sub(lambda m: " " * len(m.group()), text)  # same offsets as ``text``
        tokens: list[Token] = []
        for match in _WORD.finditer(masked):
            piece = match.group()
            if _CJK.match(piece):
                for word, start, end in jieba_tok.tokenize(piece, HMM=False):
                    if word not in _ZH_STOP:
                        tokens.append(Token(word, match.start() + start, match.start() + end))
            else:
                word = piece.lower()
                if word in _EN_STOP or (len(word) == 1 and not word.isdigit()):
                    continue
                tokens.append(Token(stemmer.stemWord(word) if word.isalpha() else word, match.start(), match.end()))
        return tokens

    def support(self, statement: str, evidence: str) -> float:
        score = self.coverage(self.content_tokens(statement), evidence)
        if score > 0.0 and self.check_polarity and self.conflict(statement, evidence) is not None:
            return 0.0
        return score

    def conflict(self, statement: str, evidence: str) -> Conflict | None:
        """How ``statement`` contradicts ``evidence`` (negation, number, parties), if it does."""
        wanted: dict[str, set[str]] = {}  # each statement sentence is scored against every evidence sentence

        def score(sentence: str, span: str) -> float:
            if sentence not in wanted:
                wanted[sentence] = self.content_tokens(sentence)
            return self.coverage(wanted[sentence], span)

        return find_conflict(statement, evidence, tokenize=self.positioned_tokens, score=score)

    def coverage(self, wanted: set[str], evidence: str) -> float:
        """Weighted share of the ``wanted`` content tokens that ``evidence`` contains."""
        if not wanted:
            return 0.0
        have = self.content_tokens(evidence)
        if not have:
            return 0.0
        # A Chinese word jieba segments differently in the two texts (专利权人 vs 专利权 人) still
        # counts when it occurs verbatim in the evidence.
        total = found = 0.0
        for token in wanted:
            weight = _COMMON_WEIGHT if token in _ZH_COMMON or token in _EN_COMMON else 1.0
            total += weight
            found += weight * _found(token, have, evidence)
        return found / total


def _found(token: str, have: set[str], evidence: str) -> float:
    """1 when the token is in the evidence; for a Chinese word segmented differently there (未经许可
    vs 未经专利权人许可), the share of its character bigrams the evidence contains."""
    if token in have:
        return 1.0
    if not _CJK.match(token):
        return 0.0
    if token in evidence:
        return 1.0
    if len(token) < 3:
        return 0.0
    bigrams = [token[i : i + 2] for i in range(len(token) - 1)]
    return sum(1 for b in bigrams if b in evidence) / len(bigrams)


class CrossEncoderJudge:
    """A sentence-transformers CrossEncoder from a local path: one output = relevance/support score
    (sigmoid), several outputs = an NLI model whose *entailment* probability is the support."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        name: str = "cross-encoder",
        device: str | None = None,
        max_length: int = 512,
    ) -> None:
        path = Path(model_path)
        if not path.is_dir():
            raise ConfigError(f"support judge model path {str(path)!r} is not a directory")
        self.name = name
        self._path = path
        self._device = None if device in (None, "auto") else device
        self._max_length = max_length
        self._model: Any = None
        self._entailment_index: int | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                model = CrossEncoder(
                    str(self._path), device=self._device, max_length=self._max_length, local_files_only=True
                )
                self._entailment_index = _entailment_index(model)
                self._model = model
            return self._model

    def support(self, statement: str, evidence: str) -> float:
        if not statement.strip() or not evidence.strip():
            return 0.0  # nothing is supported by, or claimed with, no text (a model would still score it)
        model = self._loaded()
        # (premise, hypothesis) order: the evidence should entail the statement.
        scores = model.predict([(evidence, statement)], apply_softmax=True, show_progress_bar=False)
        row = scores[0]
        if getattr(row, "ndim", 0) == 0 or len(row) == 1:
            value = float(row if getattr(row, "ndim", 0) == 0 else row[0])
            if not 0.0 <= value <= 1.0:  # a model saved with an identity activation gives logits
                value = 1.0 / (1.0 + math.exp(-value))
            return value
        index = self._entailment_index if self._entailment_index is not None else len(row) - 1
        return float(row[index])


def _entailment_index(model: Any) -> int | None:
    """Index of the label called entailment in the model's config, when it has one."""
    for holder in (model, getattr(model, "model", None), getattr(model, "config", None)):
        config = getattr(holder, "config", holder)
        id2label = getattr(config, "id2label", None)
        if isinstance(id2label, dict):
            for index, label in id2label.items():
                if "entail" in str(label).lower():
                    return int(index)
    return None


def judge_registry() -> Registry[SupportJudge]:
    """Judges by name. Built per call (no module-level state); factories import lazily."""
    registry: Registry[SupportJudge] = Registry("support judge")

    @registry.register("lexical")
    def _lexical(*, model_path: Path | None = None, device: str | None = None) -> SupportJudge:
        return LexicalJudge()

    def _model_judge(name: str):
        def factory(*, model_path: Path | None = None, device: str | None = None) -> SupportJudge:
            if model_path is None:
                raise ConfigError(f"support judge {name!r} needs a model: set IPQA_SUPPORT_JUDGE_PATH")
            return CrossEncoderJudge(model_path, name=name, device=device)

        return factory

    registry.register("cross-encoder")(_model_judge("cross-encoder"))
    registry.register("nli")(_model_judge("nli"))
    return registry


def create_judge(
    name: str, *, model_path: Path | str | None = None, device: str | None = None
) -> SupportJudge:
    """The support judge called ``name`` (lexical | cross-encoder | nli)."""
    from ipqa.registry import UnknownBackendError

    try:
        factory = judge_registry().get(name)
    except UnknownBackendError as exc:
        raise ConfigError(str(exc)) from None
    return factory(model_path=Path(model_path) if model_path else None, device=device)
