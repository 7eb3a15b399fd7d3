"""Features of a (question, candidate unit) pair for the learned reranker.

Two groups, because they are computed at different times during training:

* *query features* depend only on the question, the candidate and the first-stage scores (BM25 and
  dense scores and ranks, the share of the question's terms in the candidate's indexed text and in its
  law's title, whether the question names the candidate's law, whether it is the newest version, the
  candidate's dense score). Computed once per question, even when five cross-validation folds score it;
* *learned features* come from the training questions (article and law popularity priors, the
  association votes of similar past questions) and so change with each fold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Protocol, Sequence

import numpy as np

from indexes.protocols import ChunkStore, NewestVersion
from indexes.store import int_id_for
from indexes.tokenize import tokenize
from ingest.citations import fallback_key, parse_citation
from ipqa.domain import Chunk, Hit
from rag.query import AnalyzedQuery
from rag.rerank.association import Priors, Votes, law_of

QUERY_FEATURES: tuple[str, ...] = (
    "bm25", "bm25_rel", "bm25_log_rank", "dense_rel", "dense_log_rank", "fused_log_rank", "term_overlap", "title_overlap",
    "law_named", "any_law_named", "newest_version", "log_length", "first_stage",
    # the dense score of every candidate, not only of those the dense list reached (DenseCosines),
    # and its gap to the best first-stage candidate's
    "dense_cos", "dense_cos_gap",
)
LEARNED_FEATURES: tuple[str, ...] = (
    "article_prior", "law_prior", "assoc_article", "assoc_law", "cocited", "cocited_any",
)
# Products of the two groups: a linear model cannot otherwise say "association votes count for
# more when the text matches too" (candidates only the association model found tend to be
# over-promoted to the very top without them).
INTERACTIONS: tuple[tuple[str, str], ...] = (
    ("assoc_article", "first_stage"), ("assoc_article", "bm25_rel"), ("assoc_law", "bm25_rel"),
    ("article_prior", "bm25_rel"), ("assoc_article", "term_overlap"), ("assoc_law", "first_stage"),
    ("article_prior", "first_stage"), ("law_prior", "bm25_rel"), ("dense_cos_gap", "term_overlap"),
)
FEATURE_NAMES: tuple[str, ...] = QUERY_FEATURES + LEARNED_FEATURES + tuple(f"{a}*{b}" for a, b in INTERACTIONS)


def unit_key_of(chunk: Chunk) -> str:
    """The key of the unit ``chunk`` is (the same for every version of an article): the first of
    ``ingest.citations.unit_keys(chunk)``, which depends on the citation alone."""
    return _unit_key_of_citation(chunk.citation)


@lru_cache(maxsize=1 << 16)
def _unit_key_of_citation(citation: str) -> str:
    # Parsing a citation costs ~60 µs and retrieval asks for the same few hundred units' keys on
    # every query (version collapse, cited-first, LTR features): parse each citation once.
    ref = parse_citation(citation)
    return ref.unit_key if ref is not None else fallback_key(citation)


class DenseCosines(Protocol):
    """The dense model's score of a query against stored chunk vectors (``indexes.snapshot.Snapshot``;
    a held-out model's in training): ``{int id: score}`` for the ids it has a vector of."""

    def dense_cosines(self, query: str, int_ids: Sequence[int]) -> dict[int, float]: ...


def candidate_cosines(dense: DenseCosines | None, query: str, candidates: Sequence[Candidate]) -> dict[str, float]:
    """``{chunk id: dense score}`` of ``candidates`` (empty without ``dense``)."""
    if dense is None or not candidates:
        return {}
    ids = {c.hit.chunk.id: int_id_for(c.hit.chunk.id) for c in candidates}
    found = dense.dense_cosines(query, list(ids.values()))
    return {chunk_id: found[i] for chunk_id, i in ids.items() if i in found}


def best_first_stage_cosine(candidates: Sequence[Candidate], cosines: Mapping[str, float]) -> float:
    """The best dense score among the first stage's candidates (rank > 0), what ``dense_cos_gap`` is
    measured from: the same for a question whichever other candidates are added to its list."""
    return max((cosines[c.hit.chunk.id] for c in candidates if c.hit.rank and c.hit.chunk.id in cosines),
               default=0.0)


@dataclass(frozen=True)
class Candidate:
    """A first-stage hit with what the features need about it."""

    hit: Hit
    unit_key: str
    law: str  # law_of(unit_key)


def candidates_of(hits: Sequence[Hit]) -> list[Candidate]:
    out = []
    for hit in hits:
        key = unit_key_of(hit.chunk)
        out.append(Candidate(hit, key, law_of(key)))
    return out


class TermMatches(Protocol):
    """How many of a query's distinct BM25 tokens each chunk contains in its indexed text (its
    document's title, citation and text): the index snapshot, from its BM25 postings."""

    def matched_terms(self, tokens: Iterable[str], int_ids: Sequence[int]) -> np.ndarray: ...


class QueryFeatureExtractor:
    """Computes :data:`QUERY_FEATURES` over the index a candidate came from (``store`` for the newest
    versions, ``terms`` for the term overlap). Tokenised law titles are remembered (there are few laws)."""

    # The rank given to a list's missing candidates: a constant, so a candidate's features do not
    # depend on how many others were found (training adds candidates fold by fold).
    MISSING_RANK = 1000

    def __init__(self, store: ChunkStore, terms: TermMatches) -> None:
        self._store = store
        self._terms = terms
        self._title_tokens: dict[str, frozenset[str]] = {}

    def _title(self, law: str, language: str) -> frozenset[str]:
        tokens = self._title_tokens.get(law)
        if tokens is None:
            name = law.split("|")[-1]
            tokens = self._title_tokens[law] = frozenset(tokenize(name, language))
        return tokens

    @staticmethod
    def _is_newest(candidate: Candidate, newest: NewestVersion | None) -> float:
        """1 when the candidate is (or reads exactly like) ``newest``, the newest version of its unit."""
        if newest is None:
            return 1.0
        return 1.0 if newest.chunk_id == candidate.hit.chunk.id or newest.text == candidate.hit.chunk.text else 0.0

    def extract(self, query: AnalyzedQuery, candidates: Sequence[Candidate],
                cosines: Mapping[str, float] | None = None, best_cosine: float = 0.0) -> np.ndarray:
        """float32 ``[len(candidates), len(QUERY_FEATURES)]``; ``cosines``: dense scores by chunk id
        (:func:`candidate_cosines`), ``best_cosine``: :func:`best_first_stage_cosine`."""
        cosines = cosines or {}
        if not candidates:
            return np.zeros((0, len(QUERY_FEATURES)), dtype=np.float32)
        query_tokens = set(tokenize(query.lexical, query.language))
        n_query = max(1, len(query_tokens))
        scores = [c.hit.component_scores for c in candidates]
        chunks = [c.hit.chunk for c in candidates]
        bm25 = np.array([s.get("bm25", 0.0) for s in scores], dtype=np.float32)
        dense = np.array([s.get("dense", 0.0) for s in scores], dtype=np.float32)
        bm25_top = float(bm25.max()) if bm25.max() > 0 else 1.0
        dense_top = float(dense.max()) if dense.max() > 0 else 1.0
        named = set(query.laws)
        newest = self._store.newest_versions(c.unit_key for c in candidates)  # one query
        # the share of the query's terms in the candidate's indexed text: what BM25 matched, read
        # from its postings (the text, its citation and its law's title, which title_overlap has alone)
        overlap = self._terms.matched_terms(query_tokens, [int_id_for(chunk.id) for chunk in chunks]) / n_query
        # column by column (a row at a time cost ~1 ms a search over 300 candidates)
        columns = (
            bm25,
            bm25 / bm25_top,
            self._log_ranks([s.get("bm25_rank") for s in scores]),
            np.maximum(dense, 0.0) / dense_top,
            self._log_ranks([s.get("dense_rank") for s in scores]),
            self._log_ranks([c.hit.rank or None for c in candidates]),
            overlap,
            [len(query_tokens & self._title(c.law, str(chunk.language))) / n_query
             for c, chunk in zip(candidates, chunks)],
            [float(c.law.split("|")[-1] in named) for c in candidates],
            np.full(len(candidates), float(bool(named))),
            [self._is_newest(c, newest.get(c.unit_key)) for c in candidates],
            np.log1p([len(chunk.text) for chunk in chunks]),
            [float(bool(c.hit.rank)) for c in candidates],  # 0 for candidates only another source proposed
            [cosines.get(chunk.id, 0.0) for chunk in chunks],
            [cosines[chunk.id] - best_cosine if chunk.id in cosines else 0.0 for chunk in chunks],
        )
        rows = np.empty((len(candidates), len(QUERY_FEATURES)), dtype=np.float32)
        for index, column in enumerate(columns):
            rows[:, index] = column
        return rows

    @classmethod
    def _log_ranks(cls, ranks: Sequence[float | None]) -> np.ndarray:
        """``log1p`` of each rank, None (missing from that list) read as :attr:`MISSING_RANK`; a rank
        deeper than a missing candidate's would say "worse than absent": clamped to it."""
        missing = cls.MISSING_RANK
        values = np.array([missing if r is None else int(r) for r in ranks], dtype=np.float64)
        return np.log1p(np.minimum(values, missing))


def learned_features(candidates: Sequence[Candidate], priors: Priors, votes: Votes,
                     cocited: Mapping[str, float] | None = None) -> np.ndarray:
    """float32 ``[len(candidates), len(LEARNED_FEATURES)]``; ``cocited``: the co-citation scores
    (:class:`rag.rerank.cocitation.CoCitations`) of the question's first stage."""
    cocited = cocited or {}
    rows = np.zeros((len(candidates), len(LEARNED_FEATURES)), dtype=np.float32)
    for row, candidate in enumerate(candidates):
        together = cocited.get(candidate.unit_key, 0.0)
        rows[row] = (
            math.log1p(max(0, priors.articles.get(candidate.unit_key, 0))),
            math.log1p(max(0, priors.laws.get(candidate.law, 0))),
            votes.articles.get(candidate.unit_key, 0.0),
            votes.laws.get(candidate.law, 0.0),
            together,
            float(together > 0),
        )
    return rows


def feature_matrix(query_rows: np.ndarray, learned_rows: np.ndarray) -> np.ndarray:
    """The model's input, in :data:`FEATURE_NAMES` order: both groups and their interactions."""
    both = np.hstack([query_rows, learned_rows])
    index = {name: i for i, name in enumerate(QUERY_FEATURES + LEARNED_FEATURES)}
    products = [both[:, index[a]] * both[:, index[b]] for a, b in INTERACTIONS]
    return np.column_stack([both, *products]).astype(np.float32) if products else both
