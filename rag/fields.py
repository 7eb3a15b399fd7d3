"""The field of law a question is about, learned from the corpus: patent, trademark, copyright, …

Why: lexical retrieval has no idea that a question about 专利年费 belongs to patent law, so articles of
unrelated laws that share its everyday words (期限, 费用, 恢复) outrank the Patent Law, and a reranker
trained on civil-law lay questions pulls civil-law articles into IP questions. A field posterior lets
ranking prefer candidates of the question's field and lets a reranker serve only the fields it was
validated on.

How: every statute unit gets a field from its law (title words for the IP fields, which is where the
corpus is finest-grained; the corpus's own category folders for the rest; the US Code title and the
document kind in English). A multinomial naive Bayes model over the BM25 tokens of each field's texts
then reads the field from a question's words: no labelled questions are needed, and questions do not
need to name the law (``山寨`` appears in no law, but ``假冒``, ``注册商标`` and ``商品`` do). The
artefact is plain JSON (token counts per field), written by ``ipqa train fields`` under
``IPQA_DATA_DIR/models/fields``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from ipqa.errors import ConfigError

FORMAT_VERSION = 1
MODEL_FILE = "fields.json"

IP_FIELDS = frozenset({"patent", "trademark", "copyright", "unfair_competition", "ip"})
FIELDS: tuple[str, ...] = ("patent", "trademark", "copyright", "unfair_competition", "ip", "civil", "criminal",
                           "procedure", "administrative", "economic", "social", "constitutional", "other")

# Title words decide the IP fields (first match wins: 专利代理条例 is patent, not administrative).
_TITLE_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("patent", re.compile("专利")),
    ("trademark", re.compile("商标")),
    ("copyright", re.compile("著作权|版权|计算机软件|信息网络传播权")),
    ("unfair_competition", re.compile("不正当竞争|商业秘密")),
    ("ip", re.compile("知识产权|植物新品种|集成电路布图")),
)
_CATEGORY_FIELDS: Mapping[str, str] = {
    "刑法": "criminal", "民法典": "civil", "民法商法": "civil", "诉讼与非诉讼程序法": "procedure",
    "行政法": "administrative", "行政法规": "administrative", "部门规章": "administrative",
    "地方性法规": "administrative", "经济法": "economic", "社会法": "social", "宪法": "constitutional",
    "宪法相关法": "constitutional",
}
_INTERPRETATION_FIELDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("criminal", re.compile("刑事|犯罪|刑法")),
    ("procedure", re.compile("诉讼|执行|仲裁|审判|证据|送达")),
    ("administrative", re.compile("行政")),
)
_US_TITLE_FIELDS: Mapping[str, str] = {"35": "patent", "17": "copyright", "15": "trademark"}
_US_TITLE = re.compile(r"^(\d+) U\.S\.C\.")
# a patent's own text: "US 8,927,118 B2, claim 3", "US 2001/0000044 A1, ¶ [0003]", "US RE45,123 E, abstract"
_PATENT_CITATION = re.compile(r"^US [\dA-Z,/]+ [A-Z]\d?, ")


def is_patent_citation(citation: str) -> bool:
    return bool(_PATENT_CITATION.match(citation))


def field_of_law(title: str, *, category: str | None = None, citation: str = "", kind: str = "statute") -> str:
    """The field of a law (or other document), from its title, corpus category and kind."""
    if kind == "patent" or is_patent_citation(citation):
        return "patent"
    us_title = _US_TITLE.match(citation)
    if us_title:
        return _US_TITLE_FIELDS.get(us_title.group(1), "other")
    for field, pattern in _TITLE_FIELDS:
        if pattern.search(title):
            return field
    if category == "司法解释":
        for field, pattern in _INTERPRETATION_FIELDS:
            if pattern.search(title):
                return field
        return "civil"  # most interpretations not named otherwise concern civil and commercial law
    return _CATEGORY_FIELDS.get(category or "", "other")


def titles_by_field(titles) -> dict[str, frozenset[str]]:
    """The law titles of each field that titles alone define (the IP fields: 专利, 商标, 著作权, …)."""
    out: dict[str, set[str]] = {}
    for title in titles:
        for field, pattern in _TITLE_FIELDS:
            if pattern.search(title):
                out.setdefault(field, set()).add(title)
                break
    return {field: frozenset(found) for field, found in out.items()}


def field_of_chunk(chunk, document_title: str | None = None, kind: str | None = None) -> str:
    """:func:`field_of_law` of a chunk (its metadata's law title and category when it has them)."""
    metadata = chunk.metadata
    title = str(metadata.get("law_title") or document_title or chunk.citation)
    return field_of_law(title, category=metadata.get("category"), citation=chunk.citation,
                        kind=kind or str(metadata.get("kind", "statute")))


@dataclass(frozen=True)
class LanguageFieldCounts:
    """Multinomial naive Bayes over the BM25 tokens of one language, one class per field, uniform class
    prior. (One per language: the English patent corpus would otherwise swell the patent field's token
    total and make every Chinese token look unlikely there.)"""

    counts: Mapping[str, Mapping[str, int]]  # field -> token -> number of texts it occurs in
    smoothing: float = 0.1

    def __post_init__(self) -> None:
        unknown = sorted(set(self.counts) - set(FIELDS))
        if unknown:
            raise ConfigError(f"field model: unknown fields {unknown}; valid: {', '.join(FIELDS)}")
        if not self.smoothing > 0:
            raise ConfigError(f"field model: smoothing must be > 0, got {self.smoothing}")
        object.__setattr__(self, "_vocabulary", {t for tokens in self.counts.values() for t in tokens})
        object.__setattr__(self, "_totals", {field: sum(tokens.values()) for field, tokens in self.counts.items()})

    def log_likelihoods(self, tokens: Iterable[str]) -> dict[str, float] | None:
        """Sum of log P(token | field) over the distinct known tokens; None when none is known."""
        vocabulary: set[str] = self._vocabulary  # type: ignore[attr-defined]
        totals: Mapping[str, int] = self._totals  # type: ignore[attr-defined]
        known = [token for token in set(tokens) if token in vocabulary]
        if not known or not self.counts:
            return None
        denominator = self.smoothing * len(vocabulary)
        out = {}
        for field, field_counts in self.counts.items():
            norm = math.log(totals[field] + denominator)
            out[field] = sum(math.log(field_counts.get(token, 0) + self.smoothing) - norm for token in known)
        return out


@dataclass(frozen=True)
class FieldModel:
    """P(field | question) per language (see :class:`LanguageFieldCounts`).

    ``temperature`` flattens the posterior: naive Bayes multiplies many dependent token likelihoods
    and is overconfident.
    """

    languages: Mapping[str, LanguageFieldCounts]
    temperature: float = 3.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"field model: temperature must be > 0, got {self.temperature}")

    def fields(self, language: str) -> tuple[str, ...]:
        model = self.languages.get(language)
        return tuple(sorted(model.counts)) if model is not None else ()

    def posterior(self, tokens: Iterable[str], language: str) -> dict[str, float]:
        """P(field | tokens) over the fields of ``language``; empty when the language is unknown,
        uniform when no token is known."""
        model = self.languages.get(language)
        if model is None:
            return {}
        logs = model.log_likelihoods(tokens)
        fields = sorted(model.counts)
        if logs is None:
            return {field: 1.0 / len(fields) for field in fields}
        top = max(logs.values())
        weights = {field: math.exp((logs[field] - top) / self.temperature) for field in fields}
        total = sum(weights.values())
        return {field: weight / total for field, weight in weights.items()}

    @classmethod
    def fit(cls, rows: Iterable[tuple[str, str, Iterable[str]]], *, min_count: int = 2,
            temperature: float = 3.0) -> "FieldModel":
        """From ``(language, field, tokens of one text)`` rows; a token counts once per text (long
        articles do not outvote short ones); tokens in fewer than ``min_count`` texts of a language
        are dropped (they only make the artefact large)."""
        counts: dict[str, dict[str, Counter[str]]] = {}
        for language, field, tokens in rows:
            counts.setdefault(language, {}).setdefault(field, Counter()).update(set(tokens))
        languages = {}
        for language, by_field in counts.items():
            overall: Counter[str] = Counter()
            for field_counts in by_field.values():
                overall.update(field_counts)
            kept = {token for token, n in overall.items() if n >= min_count}
            languages[language] = LanguageFieldCounts(
                {field: {t: n for t, n in c.items() if t in kept} for field, c in by_field.items()})
        return cls(languages, temperature=temperature)

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        payload = {"format": FORMAT_VERSION, "temperature": self.temperature,
                   "languages": {language: {"smoothing": model.smoothing,
                                            "counts": {f: dict(sorted(c.items())) for f, c in sorted(model.counts.items())}}
                                 for language, model in sorted(self.languages.items())}}
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        temporary.replace(path)
        return path

    @classmethod
    def load(cls, directory: Path) -> "FieldModel":
        path = directory / MODEL_FILE
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"field model: no {MODEL_FILE} in {directory} (run `ipqa train fields`)") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"field model {path}: unreadable: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            found = payload.get("format") if isinstance(payload, dict) else None
            raise ConfigError(f"field model {path}: format {found!r}, this ipqa reads {FORMAT_VERSION}; "
                              "run `ipqa train fields` again")
        languages = {language: LanguageFieldCounts(entry["counts"], smoothing=float(entry["smoothing"]))
                     for language, entry in payload["languages"].items()}
        return cls(languages, temperature=float(payload["temperature"]))


def train_field_model(store, *, temperature: float = 3.0) -> FieldModel:
    """Fit a :class:`FieldModel` on every statute and patent unit of an index's chunk store."""
    from indexes.tokenize import tokenize

    def rows():
        for _, chunk, document in store.iter_chunks_with_documents():
            field = field_of_chunk(chunk, document.title, str(document.kind))
            language = str(chunk.language)
            yield language, field, tokenize(chunk.text, language)

    return FieldModel.fit(rows(), temperature=temperature)
