"""What past questions teach about lay wording: which articles and laws questions like this one needed.

Lay questions rarely share words with the statute that answers them (``老板不发工资`` vs
``用人单位应当按照劳动合同约定和国家规定，向劳动者及时足额支付劳动报酬``), but they share words
with earlier lay questions about the same problem. So the model is a nearest-neighbour vote: BM25
over the training questions finds the most similar past questions, and each votes for its gold
articles (and their laws) with its similarity. The votes are both features of the reranker and a
candidate generator: an article no BM25 search over statute text would reach can enter the list.

Everything it needs is the training questions and their gold unit keys (plain JSON in the LTR
artefact); the BM25 over them is rebuilt on load (about a thousand short texts: well under a second).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

from indexes.bm25 import Bm25Index
from indexes.text import detect_language


def law_of(unit_key: str) -> str:
    """The law part of a unit key (``cn|专利法|第十一条`` -> ``cn|专利法``)."""
    head, sep, _ = unit_key.rpartition("|")
    return head if sep else unit_key


@dataclass(frozen=True)
class Votes:
    """Association scores for one query, each scaled so the best article (law) scores 1."""

    articles: Mapping[str, float]
    laws: Mapping[str, float]

    def top_articles(self, n: int) -> list[str]:
        return [key for key, _ in sorted(self.articles.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


EMPTY_VOTES = Votes({}, {})


class QuestionAssociations:
    """Nearest past questions vote for their gold articles. ``questions[i]`` needed ``gold[i]``."""

    def __init__(self, questions: Sequence[str], gold: Sequence[Sequence[str]], *, neighbours: int = 20,
                 k1: float = 1.2, b: float = 0.75) -> None:
        if len(questions) != len(gold):
            raise ValueError(f"QuestionAssociations: {len(questions)} questions but {len(gold)} gold lists")
        if neighbours < 1:
            raise ValueError(f"QuestionAssociations: neighbours must be >= 1, got {neighbours}")
        self.neighbours = neighbours
        self._gold = [tuple(g) for g in gold]
        self._index = (Bm25Index.build(list(range(len(questions))), list(questions),
                                       [detect_language(q) for q in questions], k1=k1, b=b)
                       if questions else None)

    def __len__(self) -> int:
        return len(self._gold)

    def votes(self, lexical_query: str, *, exclude: int | None = None) -> Votes:
        """Votes of the questions nearest to ``lexical_query``; ``exclude`` leaves one training
        question out (its own vote would leak its gold into its training features)."""
        if self._index is None or not lexical_query.strip():
            return EMPTY_VOTES
        found = self._index.search(lexical_query, self.neighbours + (exclude is not None))
        articles: dict[str, float] = defaultdict(float)
        laws: dict[str, float] = defaultdict(float)
        used = 0
        for question, similarity in found:
            if question == exclude or used == self.neighbours:
                continue
            used += 1
            for key in self._gold[question]:
                articles[key] += similarity
            for law in {law_of(key) for key in self._gold[question]}:
                laws[law] += similarity
        return Votes(_scaled(articles), _scaled(laws))


def _scaled(scores: Mapping[str, float]) -> dict[str, float]:
    top = max(scores.values(), default=0.0)
    return {key: value / top for key, value in scores.items()} if top > 0 else {}


@dataclass(frozen=True)
class Priors:
    """How often each article and each law was gold in the training questions."""

    articles: Mapping[str, int]
    laws: Mapping[str, int]

    @classmethod
    def count(cls, gold: Sequence[Sequence[str]]) -> "Priors":
        articles = Counter(key for keys in gold for key in set(keys))
        laws = Counter(law_of(key) for keys in gold for key in set(keys))
        return cls(dict(articles), dict(laws))

    def without(self, gold: Sequence[str]) -> "Priors":
        """The priors had one question (with these gold keys) not been counted: leave-one-out."""
        articles = dict(self.articles)
        laws = dict(self.laws)
        for key in set(gold):
            articles[key] = articles.get(key, 0) - 1
            laws[law_of(key)] = laws.get(law_of(key), 0) - 1
        return Priors(articles, laws)
