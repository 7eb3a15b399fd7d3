"""Hybrid retrieval: BM25 and dense search fused, optionally reranked, one version per unit, with the
units the hits cite appended as context.

Steps of :meth:`HybridRetriever.retrieve`:

1. analyse the question (:mod:`rag.query`): language, lexical form without filler, laws it names;
2. first stage: BM25 over the lexical form, dense over the question as asked (only when the
   embedder serves the question's language and the language's dense weight is not 0), and, when
   the question names laws, BM25 restricted to those laws (so their articles are candidates even
   when other laws use the same words more often); fused by reciprocal rank fusion or by weighted
   min-max-normalised scores, with weights per query language; each search goes ``list_depth_factor``
   times deeper than the candidates fusion keeps;
3. candidates from other sources (the LTR reranker's association model) join the list;
4. the reranker chosen for the question (:meth:`HybridRetriever.reranker_for`), if any, reorders all
   candidates;
5. versions are collapsed: of several versions of one article only the best-placed stays (on a tie,
   the newest);
6. cross-reference expansion appends the units the top hits cite (``source="xref"``).

Filters go into every index search (never applied after the top-k cut).

Chunks are loaded only where they are read: the searches and the fusion work on the index's int ids
(:meth:`HybridRetriever.first_stage_ranked`); without a reranker only the chunks of the top k units
(and their other versions among the candidates) are loaded, which is most of the cost of a search
otherwise (decoding 150–300 candidates to return 10).
"""

from __future__ import annotations

import datetime as dt

import math
from dataclasses import dataclass, replace
from typing import Callable, Hashable, Mapping, Sequence, TypeVar

from indexes.protocols import ChunkLookup, IndexSnapshot, SearchFilters
from indexes.store import int_id_for
from ipqa.domain import Chunk, Hit
from rag.cited import cited_hits, put_cited_first
from rag.domain_prior import DomainPrior
from rag.fields import titles_by_field
from rag.expansion import expand_references
from rag.filters import in_force_today, out_of_force_ids, restrict_titles
from rag.protocols import Reranker
from rag.query import AnalyzedQuery, LawNames, analyze_query
from rag.rerank import CandidateSource, SeededCandidateSource
from rag.rerank.features import unit_key_of
from rag.versioned import CitationVersions
from rag.verify import law_titles_in_store

FUSIONS = ("rrf", "weighted")
DEFAULT_WEIGHTS: Mapping[str, float] = {"bm25": 1.0, "dense": 1.0}
K = TypeVar("K", bound=Hashable)
LAW_LIST = "bm25_law"  # the BM25 list restricted to the laws the question names; weighted as bm25
FIELD_LIST = "bm25_field"  # the BM25 list restricted to the laws of the question's field
FIELD_LIST_WEIGHT = 2.0  # x the bm25 weight


def law_names_of(snapshot: IndexSnapshot) -> LawNames:
    """The laws of an index, for spotting law names in questions (read once per snapshot)."""
    return LawNames(sorted(law_titles_in_store(snapshot.store)))


def fuse_rrf(lists: Mapping[str, Sequence[Hit]], weights: Mapping[str, float], k: int) -> dict[str, float]:
    """Reciprocal rank fusion: sum over lists of ``weight / (k + rank)``."""
    return fuse_rrf_scored(_scored_by_chunk_id(lists), weights, k)


def fuse_weighted(lists: Mapping[str, Sequence[Hit]], weights: Mapping[str, float]) -> dict[str, float]:
    """Weighted sum of min-max-normalised scores (each list scaled to [0, 1]; a one-hit list or
    equal scores give 1). A chunk missing from a list gets 0 from it."""
    return fuse_weighted_scored(_scored_by_chunk_id(lists), weights)


def fuse_rrf_scored(lists: Mapping[str, Sequence[tuple[K, float]]], weights: Mapping[str, float],
                    k: int) -> dict[K, float]:
    """:func:`fuse_rrf` over ``(id, score)`` lists (ids of any kind: the index's int ids in retrieval)."""
    fused: dict[K, float] = {}
    for name, scored in lists.items():
        weight = weights.get(name, 0.0)
        for rank, (key, _) in enumerate(scored, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return fused


def fuse_weighted_scored(lists: Mapping[str, Sequence[tuple[K, float]]],
                         weights: Mapping[str, float]) -> dict[K, float]:
    """:func:`fuse_weighted` over ``(id, score)`` lists."""
    fused: dict[K, float] = {}
    for name, scored in lists.items():
        if not scored:
            continue
        weight = weights.get(name, 0.0)
        scores = [score for _, score in scored]
        low, high = min(scores), max(scores)
        for key, score in scored:
            normalised = (score - low) / (high - low) if high > low else 1.0
            fused[key] = fused.get(key, 0.0) + weight * normalised
    return fused


def _scored_by_chunk_id(lists: Mapping[str, Sequence[Hit]]) -> dict[str, list[tuple[str, float]]]:
    return {name: [(hit.chunk.id, hit.score) for hit in hits] for name, hits in lists.items()}


def collapse_versions(hits: Sequence[Hit], lookup: ChunkLookup | None = None, *,
                      key_of: Callable[[Chunk], str] = unit_key_of, limit: int | None = None) -> list[Hit]:
    """One hit per unit (an article in any version): the best-placed one. When other versions of
    it have the same text or scored exactly as well, the newest of them is kept instead: the same
    provision should be cited in its current version (``lookup.chunks_by_unit_key`` lists versions
    newest first). Rank fusion gives identical texts different scores (one ranks above the other),
    hence the text comparison. ``key_of`` gives a chunk's unit key (callers that know it already
    save parsing the citation again); ``limit`` keeps only the first that many units (the same as
    slicing the result, without building the rest)."""
    by_key: dict[str, list[Hit]] = {}
    for hit in hits:
        key = key_of(hit.chunk)
        group = by_key.get(key)
        if group is None:
            by_key[key] = [hit]
        else:
            group.append(hit)
    out: list[Hit] = []
    for key, group in by_key.items():  # dicts keep insertion order: best-placed unit first
        if limit is not None and len(out) >= limit:
            break
        best = group[0]
        tied = [hit for hit in group if hit.score == best.score or hit.chunk.text == best.chunk.text]
        if len(tied) > 1 and lookup is not None:
            newest_first = {chunk.id: i for i, chunk in enumerate(lookup.chunks_by_unit_key(key))}
            best = min(tied, key=lambda hit: newest_first.get(hit.chunk.id, len(newest_first)))
        out.append(replace(best, rank=len(out) + 1))
    return out


@dataclass(frozen=True)
class RetrievalOptions:
    fusion: str = "rrf"
    rrf_k: int = 60
    weights: Mapping[str, Mapping[str, float]] | None = None  # language -> retriever -> weight
    candidates: int = 100
    list_depth_factor: int = 1  # each search returns depth x this many hits; fusion keeps depth
    clean_query: bool = True
    law_boost: bool = True  # search the laws a question names separately
    collapse_versions: bool = True
    expand_references: bool = True
    expand_per_hit: int = 1
    expand_total: int = 5
    cited_first: bool = True  # units the question cites explicitly go first (rag/cited.py)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion {self.fusion!r} is unknown; valid: {', '.join(FUSIONS)}")
        if self.rrf_k < 1 or self.candidates < 1:
            raise ValueError(f"rrf_k and candidates must be >= 1, got {self.rrf_k} and {self.candidates}")
        if self.list_depth_factor < 1:
            raise ValueError(f"list_depth_factor must be >= 1, got {self.list_depth_factor}")


class HybridRetriever:
    """Implements :class:`rag.protocols.Retriever` over one :class:`IndexSnapshot`."""

    def __init__(self, snapshot: IndexSnapshot, *, fusion: str = "rrf", rrf_k: int = 60,
                 weights: Mapping[str, Mapping[str, float]] | None = None, candidates: int = 100,
                 list_depth_factor: int = 1, reranker: Reranker | None = None, expand_references: bool = True,
                 candidate_sources: Sequence[CandidateSource] | None = None, clean_query: bool = True,
                 law_boost: bool = True, collapse_versions: bool = True, law_names: LawNames | None = None,
                 expand_per_hit: int = 1, expand_total: int = 5, cited_first: bool = True,
                 domain_prior: DomainPrior | None = None, reranker_fields: frozenset[str] | None = None,
                 more_rerankers: Sequence[tuple[Reranker, frozenset[str] | None]] = ()) -> None:
        self.snapshot = snapshot
        # The reranker (and its candidate sources) serve only questions whose most likely field of law
        # is one of these (None: every question): a reranker is used where it was validated better
        # than the first stage. Needs the domain prior's field model to tell the field.
        self.domain_prior = domain_prior
        self.reranker_fields = frozenset(reranker_fields) if reranker_fields is not None else None
        self.options = RetrievalOptions(fusion=fusion, rrf_k=rrf_k, weights=weights, candidates=candidates,
                                        list_depth_factor=list_depth_factor, clean_query=clean_query, law_boost=law_boost,
                                        collapse_versions=collapse_versions, expand_references=expand_references,
                                        expand_per_hit=expand_per_hit, expand_total=expand_total,
                                        cited_first=cited_first)
        self.reranker = reranker
        # Each learned reranker with the fields it serves: a question goes to the one whose fields hold
        # most of its field posterior (at least half), e.g. a model of IP practitioners' questions for
        # IP questions and one of lay civil-law questions for the rest ("ranking that never hurts a domain").
        self.routes: list[tuple[Reranker, frozenset[str] | None]] = (
            [(reranker, self.reranker_fields)] if reranker is not None else [])
        self.routes += [(r, frozenset(f) if f is not None else None) for r, f in more_rerankers]
        # by default a reranker's own candidates (LTR associations) come with it
        self._default_sources = candidate_sources is None
        if candidate_sources is None:
            candidate_sources = [r for r, _ in self.routes if isinstance(r, CandidateSource)]
        self.candidate_sources = list(candidate_sources)
        self.law_names = law_names if law_names is not None else (
            law_names_of(snapshot) if law_boost or cited_first else None)
        # exact law names for parsing the citations a question makes (see rag/cited.py)
        self._known_laws = self.law_names.all_titles() if self.law_names is not None else None
        self._titles_by_field: dict[str, frozenset[str]] | None = None  # built on first need
        # the hits' citations name their version when it is not the one in force today
        self.citation_versions = CitationVersions(snapshot.store)

    def weights_for(self, language: str) -> Mapping[str, float]:
        weights = (self.options.weights or {}).get(language)
        return weights if weights is not None else DEFAULT_WEIGHTS

    # --- stages ----------------------------------------------------------------------------------
    def analyze(self, query: str) -> AnalyzedQuery:
        return analyze_query(query, law_names=self.law_names if self.options.law_boost else None,
                             clean=self.options.clean_query)

    def first_stage_ranked(self, analyzed: AnalyzedQuery, filters: SearchFilters | None = None, *,
                           depth: int | None = None, field_titles: frozenset[str] | None = None) -> list[Ranked]:
        """The fused first stage as int ids with scores, best first, no chunk loaded (loading and
        decoding chunks costs more than the searches: only the caller knows how many it needs).
        ``depth`` (default: the ``candidates`` option) is how many are kept, each search returning
        ``list_depth_factor`` times as many (a unit deep in one list and high in another gets both votes);
        ``field_titles``: the laws of the question's field, searched as one more BM25 list (as the
        laws a question names are), so that the field's articles are candidates even when other laws
        use the question's words more often."""
        options = self.options
        depth = depth or options.candidates
        list_depth = depth * options.list_depth_factor
        weights = dict(self.weights_for(analyzed.language))
        lists: dict[str, list[tuple[int, float]]] = {}
        if weights.get("bm25", 0.0) > 0:
            lists["bm25"] = self.snapshot.search_bm25_ids(analyzed.lexical, list_depth, filters)
            if analyzed.laws and self.law_names is not None:
                titles = self.law_names.titles(analyzed.laws)
                lists[LAW_LIST] = self.snapshot.search_bm25_ids(analyzed.lexical, list_depth,
                                                                restrict_titles(filters, titles))
                weights[LAW_LIST] = weights["bm25"]
            if field_titles:
                lists[FIELD_LIST] = self.snapshot.search_bm25_ids(analyzed.lexical, list_depth,
                                                                  restrict_titles(filters, field_titles))
                weights[FIELD_LIST] = FIELD_LIST_WEIGHT * weights["bm25"]
        # Never embed the query for a list that would count for nothing.
        if weights.get("dense", 0.0) > 0 and analyzed.language in self.snapshot.embedder_languages:
            lists["dense"] = self.snapshot.search_dense_ids(analyzed.text, list_depth, filters)
        if options.fusion == "rrf":
            fused = fuse_rrf_scored(lists, weights, options.rrf_k)
        else:
            fused = fuse_weighted_scored(lists, weights)
        components: dict[int, dict[str, float]] = {int_id: {} for int_id in fused}
        for name, scored in lists.items():
            for rank, (int_id, score) in enumerate(scored, start=1):
                components[int_id][name] = score
                components[int_id][f"{name}_rank"] = float(rank)
        order = sorted(fused, key=lambda int_id: (-fused[int_id], _bm25_rank(components[int_id])))
        return [Ranked(int_id, fused[int_id], {**components[int_id], "fused": fused[int_id]})
                for int_id in order[:depth]]

    def first_stage(self, analyzed: AnalyzedQuery, filters: SearchFilters | None = None, *,
                    depth: int | None = None, field_titles: frozenset[str] | None = None) -> list[Hit]:
        """Fused BM25 (+ named-law BM25) and dense hits, best first, ``source="hybrid"``; component
        scores hold each list's score and rank (``bm25``, ``bm25_rank``, ``dense``, …) and ``fused``.
        ``depth`` (default: the ``candidates`` option) is how many are kept (see :meth:`first_stage_ranked`)."""
        return self._hits(self.first_stage_ranked(analyzed, filters, depth=depth, field_titles=field_titles))

    def _hits(self, ranked: Sequence[Ranked], ranks: Sequence[int] | None = None) -> list[Hit]:
        """Hits of ``ranked`` with their chunks loaded in one store query; rank = place in the first
        stage (``ranks``, default 1, 2, …)."""
        chunks = self.snapshot.chunks_by_int_ids(r.int_id for r in ranked)
        ranks = ranks if ranks is not None else range(1, len(ranked) + 1)
        # A chunk missing from its own version cannot happen in a verified index; never invent a hit.
        return [Hit(chunk=chunks[r.int_id], score=r.score, rank=rank, source="hybrid",
                    component_scores=r.components)
                for r, rank in zip(ranked, ranks) if r.int_id in chunks]

    def candidates(self, query: str, filters: SearchFilters | None = None, *,
                   depth: int | None = None) -> tuple[AnalyzedQuery, list[Hit]]:
        """The first stage plus the other sources' candidates (those not already in it)."""
        analyzed = self.analyze(query)
        hits = self.first_stage(analyzed, filters, depth=depth)
        sources = [source for source in self.candidate_sources if source.serves(query)]
        return analyzed, self._add_source_candidates(hits, sources, query, filters)

    # --- the Retriever protocol ---------------------------------------------------------------------
    def retrieve(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Hit]:
        if k < 1:
            raise ValueError(f"retrieve: k must be >= 1, got {k}")
        if not query.strip():
            return []
        # Unless the caller asks for a date, each law is searched in the version in force today.
        filters = in_force_today(filters, dt.date.today().isoformat())
        # Never fewer candidates than hits asked for (an evaluation may ask for 100).
        depth = max(self.options.candidates, k)
        analyzed, posterior, reranker = self.route(query)
        learned_applies = reranker is not None if self.routes else self._field_served(posterior)
        sources = self._sources_for(query, reranker) if learned_applies else []
        if reranker is None and not sources and self.domain_prior is None:
            # Nothing reorders the first stage: load only the chunks of the top k units.
            ranked = self.first_stage_ranked(analyzed, filters, depth=depth)
            hits = self._top_units(ranked, k) if self.options.collapse_versions else self._hits(ranked[:k])
        else:  # the reranker (or the domain prior) reads every candidate
            field_titles = (self._field_titles(posterior) if reranker is None and self.domain_prior is not None
                            else None)
            hits = self.first_stage(analyzed, filters, depth=depth, field_titles=field_titles)
            hits = self._add_source_candidates(hits, sources, query, filters)
            if reranker is not None:
                hits = reranker.rerank(query, hits, len(hits))
            elif self.domain_prior is not None:
                hits = self.domain_prior.apply(query, posterior, hits, language=analyzed.language)
            hits = (collapse_versions(hits, self.snapshot.store, limit=k) if self.options.collapse_versions
                    else hits[:k])
        if self.options.cited_first:
            cited = cited_hits(query, self.snapshot.store, known_laws=self._known_laws, filters=filters)
            if cited:
                hits = put_cited_first(cited, hits, k)
        if self.options.expand_references:
            hits = expand_references(hits, self.snapshot.store, per_hit=self.options.expand_per_hit,
                                     total=self.options.expand_total,
                                     out_of_force=out_of_force_ids(filters, self.snapshot.store))
        return self.citation_versions.hits(hits)

    def _field_titles(self, posterior: Mapping[str, float]) -> frozenset[str] | None:
        """The titles of the laws of the question's likeliest field, when the domain prior says to
        search them (a title-defined field, likely enough: :meth:`DomainPrior.field_to_search`)."""
        if self.domain_prior is None or self.law_names is None:
            return None
        field = self.domain_prior.field_to_search(posterior)
        if field is None:
            return None
        if self._titles_by_field is None:
            self._titles_by_field = titles_by_field(self.law_names.all_titles())
        return self._titles_by_field.get(field) or None

    def route(self, query: str) -> tuple[AnalyzedQuery, Mapping[str, float], Reranker | None]:
        """The question analysed, its field posterior (empty without a domain prior) and the reranker
        that serves it (:meth:`reranker_for`): what :meth:`retrieve` decides before searching."""
        analyzed = self.analyze(query)
        posterior = (self.domain_prior.field_posterior(analyzed.lexical, analyzed.language)
                     if self.domain_prior is not None else {})
        return analyzed, posterior, self.reranker_for(query, posterior)

    def reranker_for(self, query: str, posterior: Mapping[str, float], *,
                     records: Callable[[Reranker], Mapping[str, float]] | None = None) -> Reranker | None:
        """The reranker that serves this question, None when no reranker was validated for questions
        like it. Eligible: those that serve its language and whose fields hold at least half of its
        field posterior. Among them, the one with the best expected cross-validated MRR on it: each
        field's MRR in its artefact (``cv_mrr_by_field``) weighted by the question's posterior. So a lay
        civil-law question goes to a model of lay questions when that model did better on civil law,
        and a question that is partly about patents stays with the model that also learned patents.
        When one of them has no such record (a cross-encoder, an older artefact), or the question has no
        posterior, the one whose fields hold the most of it; the first on a tie. ``records``: each
        reranker's per-field MRR in place of its artefact's (a benchmark's leave-one-out records)."""
        eligible: list[tuple[Reranker, float, Mapping[str, float]]] = []
        for reranker, fields in self.routes:
            if not reranker.serves(query):
                continue
            mass = 1.0 if fields is None or not posterior else sum(
                p for field, p in posterior.items() if field in fields)
            if mass >= 0.5:
                record = records(reranker) if records is not None else getattr(reranker, "cv_mrr_by_field", None)
                eligible.append((reranker, mass, record or {}))
        if not eligible:
            return None
        # records are compared only with records, never with their absence (a cross-encoder, an older artefact)
        by_record = bool(posterior) and all(record for _, _, record in eligible)

        def key(entry: tuple[Reranker, float, Mapping[str, float]]) -> tuple[float, float]:
            _, mass, record = entry
            if not by_record:
                return mass, 0.0
            # the MRR it can be expected to reach on this question: its cross-validated MRR per field,
            # weighted by the question's field posterior (a field it has no record for counts 0)
            return sum(p * record.get(field, 0.0) for field, p in posterior.items()), mass

        return max(eligible, key=key)[0]  # max keeps the first of equals

    def _field_served(self, posterior: Mapping[str, float]) -> bool:
        """Whether the learned reranker serves a question with this field posterior: when its fields
        hold at least half the probability (not just the single likeliest field: a patent question
        about a time limit can look most like procedure law and still be, in sum, an IP question)."""
        if self.reranker_fields is None or not posterior:
            return True
        return sum(p for field, p in posterior.items() if field in self.reranker_fields) >= 0.5

    @staticmethod
    def _add_source_candidates(hits: list[Hit], sources: Sequence[CandidateSource], query: str,
                               filters: SearchFilters | None) -> list[Hit]:
        present = {hit.chunk.id for hit in hits}
        first_stage = tuple(hits)
        proposals = [source.candidates(query, filters) for source in sources]
        proposals += [source.seeded_candidates(query, first_stage, filters) for source in sources
                      if isinstance(source, SeededCandidateSource)]  # after every plain source's
        for proposed in proposals:
            for hit in proposed:
                if hit.chunk.id not in present:
                    present.add(hit.chunk.id)
                    hits.append(hit)
        return hits

    def _sources_for(self, query: str, reranker: Reranker | None = None) -> list[CandidateSource]:
        """The candidate sources for ``query``: those given explicitly, or the serving reranker's own."""
        if self._default_sources and self.routes:
            return [reranker] if isinstance(reranker, CandidateSource) and reranker.serves(query) else []
        return [source for source in self.candidate_sources if source.serves(query)]

    def _top_units(self, ranked: Sequence[Ranked], k: int) -> list[Hit]:
        """``collapse_versions(<all of ranked as hits>)[:k]``, loading only the chunks that can matter.

        The top k units are the first k distinct unit keys in rank order, so chunks are loaded in
        growing batches from the top until k keys are seen. Which version of a unit stays can also
        depend on that unit's other versions further down the list (a tie keeps the newest), so the
        rest of the list is searched for them through the store's unit-key index (every version of
        a unit is indexed under its key) rather than by loading it all.
        """
        keys: dict[str, str] = {}  # chunk id -> unit key, of the hits kept
        top_keys: dict[str, None] = {}  # the first k distinct keys, in order
        hits: list[Hit] = []
        scanned = 0
        batch = 2 * k
        while scanned < len(ranked) and len(top_keys) < k:
            part = ranked[scanned:scanned + batch]
            for hit in self._hits(part, range(scanned + 1, scanned + len(part) + 1)):
                key = unit_key_of(hit.chunk)
                if key in top_keys or len(top_keys) < k:
                    top_keys[key] = None
                    keys[hit.chunk.id] = key
                    hits.append(hit)
            scanned += len(part)
            batch *= 2
        if scanned < len(ranked):
            for hit in self._other_versions(ranked, scanned, top_keys):
                keys[hit.chunk.id] = unit_key_of(hit.chunk)
                hits.append(hit)
            hits.sort(key=lambda hit: hit.rank)
        # the store caches units' versions: those read above are not read again for the tie-break
        return collapse_versions(hits, self.snapshot.store, key_of=lambda chunk: keys[chunk.id], limit=k)

    def _other_versions(self, ranked: Sequence[Ranked], start: int, keys: Mapping[str, None]) -> list[Hit]:
        """Hits for the candidates from ``ranked[start]`` on that are units of ``keys``.

        The store's unit-key index gives every chunk of a unit by chunk id; ``int_id_for`` turns
        that into the int id the searches return. (A chunk whose int id was probed past a 63-bit
        hash collision would be missed here: it then only loses a tie-break between versions.)
        """
        rest = {r.int_id: place for place, r in enumerate(ranked[start:], start=start)}
        places: set[int] = set()
        for versions in self.snapshot.store.chunks_by_unit_keys(keys).values():  # one query
            for chunk in versions:
                place = rest.get(int_id_for(chunk.id))
                if place is not None:
                    places.add(place)
        ordered = sorted(places)
        # loaded by int id and checked again: an int id found above is never taken for another chunk
        return [hit for hit in self._hits([ranked[p] for p in ordered], [p + 1 for p in ordered])
                if unit_key_of(hit.chunk) in keys]


@dataclass(frozen=True)
class Ranked:
    """A fused first-stage candidate before its chunk is loaded: the index's int id, the fused
    score, and each list's score and rank (``bm25``, ``bm25_rank``, …, ``fused``)."""

    int_id: int
    score: float
    components: Mapping[str, float]


def _bm25_rank(components: Mapping[str, float]) -> float:
    """Tie-break for equal fused scores: the better BM25 rank, then (math.inf) those BM25 missed."""
    return components.get("bm25_rank", math.inf)
