"""A first-stage prior that knows the domain: the question's field of law, the authority of the
source, and the kind of document the question asks for.

Three adjustments of the fused first-stage score, each small against the score of a top rank, so the
text still decides between candidates of the same field and kind:

* **field search**: the laws of the question's likeliest field (when P ≥ 0.3 and the field is one its
  law titles define: patent, trademark, copyright, unfair competition, other IP) are searched as one more
  BM25 list of the first stage, as the laws a question names are;
* **field**: ``+ field_weights[language] × P(field of the candidate's law | question)``
  (:mod:`rag.fields`): a patent question prefers the Patent Law, its implementing rules and the patent
  interpretations over laws that merely share its everyday words. Chinese only by default: the
  English corpus has three fields (its US Code titles), and patent documents share the patent field
  with 35 U.S.C., so the prior there only adds noise (measured: English R@10 0.81 -> 0.74);
* **local regulations**: ``- local_penalty`` for provincial and municipal rules unless the question
  names a place: practitioners ask about national law, and the corpus's local IP regulations restate
  it in words that outrank it;
* **patent text for legal questions**: ``- patent_text_penalty`` for the text of patents (abstracts,
  claims, description paragraphs) unless the question is about a patent document (names a patent,
  claims, figures or embodiments): doctrine and conduct questions ask for the law, and a patent's
  background section discussing the law outranks the section that states it.

The weights were chosen on the practitioner-style validation questions (``ip-qa-dev``) and checked on
the STARD lay questions; see docs/benchmarks.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping, Sequence

from indexes.tokenize import tokenize
from ipqa.domain import Hit
from ipqa.errors import ConfigError
from rag.fields import FieldModel, field_of_chunk, is_patent_citation

# Provincial / municipal / special-zone rules: the law title starts with a place.
_LOCAL_TITLE = re.compile(r"^(?:[\u4e00-\u9fff]{2,3}(?:省|市|自治区)|[\u4e00-\u9fff]{2,8}(?:自治州|新区|特区))")
_PLACE = re.compile(r"[\u4e00-\u9fff](?:省|市|自治区|自治州|新区)|上海|北京|天津|重庆|深圳|广州|浦东|杭州|南京|苏州")
_ASKS_ABOUT_A_PATENT = re.compile(
    r"\b(?:claims?\s+\d|claimed|independent claim|dependent claim|FIG\.?|figures?|embodiments?|abstract|"
    r"US\s?\d[\d,]{5,}|patent (?:No\.|number)\s*\d|'\d{3} patent|the specification of)\b|权利要求书|说明书附图|附图",
    re.IGNORECASE)


def is_local_rule(chunk) -> bool:
    """A provincial or municipal regulation (the corpus files them under 地方性法规)."""
    title = str(chunk.metadata.get("law_title") or chunk.citation)
    return chunk.metadata.get("category") == "地方性法规" or bool(_LOCAL_TITLE.match(title))


def is_patent_text(chunk) -> bool:
    return is_patent_citation(chunk.citation)


def names_a_place(question: str) -> bool:
    return bool(_PLACE.search(question))


def asks_about_a_patent_document(question: str) -> bool:
    return bool(_ASKS_ABOUT_A_PATENT.search(question))


@dataclass(frozen=True)
class DomainPriorOptions:
    field_weights: Mapping[str, float] = field(default_factory=lambda: {"zh": 0.01})  # per query language
    local_penalty: float = 0.01
    patent_text_penalty: float = 0.01
    # search the laws of the likeliest field as one more BM25 list when it has at least this probability
    # (measured on ip-qa-dev Chinese, list weighted 2x BM25: R@10 0.492 -> 0.521, R@100 0.721 -> 0.829,
    # MRR 0.402 -> 0.392; a threshold of 0.5 gave less)
    field_search_threshold: float = 0.3

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_weights", MappingProxyType(dict(self.field_weights)))
        for language, weight in self.field_weights.items():
            if not weight >= 0:
                raise ConfigError(f"domain prior: field weight of {language!r} must be >= 0, got {weight!r}")
        if not 0 < self.field_search_threshold <= 1:
            raise ConfigError(f"domain prior: field_search_threshold must be in (0, 1], got "
                              f"{self.field_search_threshold!r}")
        for name in ("local_penalty", "patent_text_penalty"):
            value = getattr(self, name)
            if not value >= 0:
                raise ConfigError(f"domain prior: {name} must be >= 0, got {value!r}")


class DomainPrior:
    """Re-scores first-stage hits (see the module docstring). Stateless apart from the field model."""

    def __init__(self, fields: FieldModel | None, options: DomainPriorOptions = DomainPriorOptions()) -> None:
        self.fields = fields
        self.options = options

    def field_posterior(self, lexical_query: str, language: str) -> Mapping[str, float]:
        if self.fields is None:
            return {}
        return self.fields.posterior(tokenize(lexical_query, language), language)

    def field_to_search(self, posterior: Mapping[str, float]) -> str | None:
        """The field whose laws the first stage should also search: the likeliest one, when it is
        likely enough."""
        if not posterior:
            return None
        field = max(posterior, key=lambda name: posterior[name])
        return field if posterior[field] >= self.options.field_search_threshold else None

    def apply(self, question: str, posterior: Mapping[str, float], hits: Sequence[Hit], *,
              language: str = "zh") -> list[Hit]:
        """``hits`` re-scored and re-sorted (stable: equal scores keep their order); component scores
        gain ``field_prior`` and ``domain_prior`` (the total adjustment)."""
        options = self.options
        field_weight = options.field_weights.get(language, 0.0)
        local_applies = options.local_penalty > 0 and not names_a_place(question)
        patent_applies = options.patent_text_penalty > 0 and not asks_about_a_patent_document(question)
        out = []
        for hit in hits:
            chunk = hit.chunk
            field_p = posterior.get(field_of_chunk(chunk), 0.0) if posterior else 0.0
            adjustment = field_weight * field_p
            if local_applies and is_local_rule(chunk):
                adjustment -= options.local_penalty
            if patent_applies and is_patent_text(chunk):
                adjustment -= options.patent_text_penalty
            components = {**hit.component_scores, "field_prior": field_p, "domain_prior": adjustment}
            out.append(replace(hit, score=hit.score + adjustment, component_scores=components))
        order = sorted(range(len(out)), key=lambda i: (-out[i].score, i))
        return [replace(out[i], rank=place) for place, i in enumerate(order, start=1)]
