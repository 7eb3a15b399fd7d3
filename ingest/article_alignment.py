"""Which article of one version of a law corresponds to which article of the next.

Laws are amended by rewording, inserting (第十条之一), deleting, splitting and merging articles, and
every insertion or deletion renumbers what follows: 专利法实施细则 2010 第六十九条 is 2023 第七十三条.
The numbers alone say nothing, so articles are aligned by their text:

1. **Monotone alignment.** Amendments keep the order of what they keep, so the main alignment is the
   order-preserving set of pairs with the largest total similarity (a maximum-weight increasing
   subsequence over the candidate pairs whose similarity reaches :data:`MATCH_THRESHOLD`). The order
   constraint is what keeps boilerplate (两条"违反本法规定…处…罚款") from being paired across a law.
2. **Moves.** A pair against the order is accepted only when the texts are nearly the same
   (:data:`MOVE_THRESHOLD`): an article moved to another chapter.
3. **Splits and merges.** A new article left over whose text lies mostly inside an old article
   (:data:`CONTAINMENT_THRESHOLD` of its character bigrams) next to where that old article went is a
   part split off it; symmetrically an old article left over that lies inside a new one was merged.
4. What is left is **deleted** (old) or **inserted** (new).

Similarity is the Dice coefficient of the sets of character bigrams (punctuation and spaces
removed): Chinese statute text has no word boundaries to trust, and bigrams see a reworded clause
as mostly the same text. Measured on the corpus (docs/benchmarks.md, "Article alignment").
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Callable, Sequence

import numpy as np
from scipy import sparse

MATCH_THRESHOLD = 0.35  # similarity a pair needs to be aligned in order
MOVE_THRESHOLD = 0.75  # similarity a pair of left-overs against the order needs
LEFTOVER_THRESHOLD = 0.45  # similarity a pair of left-overs (each the other's best) needs
LEFTOVER_CONTAINMENT = 0.6  # or: share of the shorter one's bigrams inside the longer one
CONTAINMENT_WEIGHT = 0.8  # containment ranks below the same Dice when choosing best partners
_MIN_CONTAINED_BIGRAMS = 12  # shorter texts are contained in too many articles to say anything
CONTAINMENT_THRESHOLD = 0.7  # share of a left-over article's bigrams found in its source (splits / merges)
SPLIT_WINDOW = 3  # a split-off part lies within this many articles of where its source went
_MIN_BIGRAMS = 4  # shorter left-overs are not split/merge candidates (a one-line article fits anywhere)

_NOT_TEXT = re.compile(r"[\s\u3000，。；：、！？“”‘’《》（）()【】\[\],.;:!?\"'\-—…·]+")


class Relation(StrEnum):
    SAME = "same"  # identical text (possibly renumbered)
    AMENDED = "amended"  # aligned, text changed
    MOVED = "moved"  # aligned against the order of the rest
    SPLIT = "split"  # the new unit is a part split off the old one (which has another successor)
    MERGED = "merged"  # the old unit was merged into the new one (which has another predecessor)
    DELETED = "deleted"  # only ``old``
    INSERTED = "inserted"  # only ``new``


@dataclass(frozen=True)
class UnitText:
    """One article of one version: its label as cited (``第六十九条``) and its text."""

    label: str
    text: str


@dataclass(frozen=True)
class ArticleLink:
    """``old`` / ``new``: indexes into the two sequences aligned (``None`` for a deletion/insertion)."""

    old: int | None
    new: int | None
    relation: Relation
    similarity: float  # Dice of the bigram sets (0 for deletions and insertions)
    renumbered: bool = False  # both sides present and their labels differ


def bigrams(text: str) -> frozenset[str]:
    squashed = _NOT_TEXT.sub("", text)
    if len(squashed) < 2:
        return frozenset({squashed}) if squashed else frozenset()
    return frozenset(squashed[i:i + 2] for i in range(len(squashed) - 1))


def similarity_matrix(old: Sequence[frozenset[str]], new: Sequence[frozenset[str]]) -> np.ndarray:
    """Dice coefficients of every (old, new) pair of bigram sets, as a dense ``len(old) × len(new)`` array."""
    vocabulary: dict[str, int] = {}
    for grams in (*old, *new):
        for gram in grams:
            vocabulary.setdefault(gram, len(vocabulary))
    a = _binary_matrix(old, vocabulary)
    b = _binary_matrix(new, vocabulary)
    shared = (a @ b.T).toarray().astype(np.float64)
    sizes = np.add.outer(np.asarray([len(s) for s in old], dtype=np.float64),
                         np.asarray([len(s) for s in new], dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        dice = np.where(sizes > 0, 2.0 * shared / sizes, 0.0)
    return dice


def _binary_matrix(sets: Sequence[frozenset[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    rows, cols = [], []
    for row, grams in enumerate(sets):
        for gram in grams:
            rows.append(row)
            cols.append(vocabulary[gram])
    data = np.ones(len(rows), dtype=np.float32)
    return sparse.csr_matrix((data, (rows, cols)), shape=(len(sets), max(len(vocabulary), 1)))


def align_articles(old: Sequence[UnitText], new: Sequence[UnitText]) -> tuple[ArticleLink, ...]:
    """Links covering every article of ``old`` and of ``new`` at least once, in the order of ``new``
    (deletions placed after the article that preceded them)."""
    old_grams = [bigrams(u.text) for u in old]
    new_grams = [bigrams(u.text) for u in new]
    if not old or not new:
        return (*(ArticleLink(i, None, Relation.DELETED, 0.0) for i in range(len(old))),
                *(ArticleLink(None, j, Relation.INSERTED, 0.0) for j in range(len(new))))
    sim = similarity_matrix(old_grams, new_grams)
    pairs = _monotone_pairs(sim, MATCH_THRESHOLD)
    links: dict[tuple[int, int], ArticleLink] = {}
    for i, j in pairs:
        same = _squash(old[i].text) == _squash(new[j].text)
        links[(i, j)] = ArticleLink(i, j, Relation.SAME if same else Relation.AMENDED, float(sim[i, j]))
    old_done = {i for i, _ in pairs}
    new_done = {j for _, j in pairs}
    _add_moves(sim, old, new, links, old_done, new_done, old_grams, new_grams)
    partner_of_old = {i: j for i, j in links}
    partner_of_new = {j: i for i, j in links}
    def split(j: int, i: int) -> None:
        links[(i, j)] = ArticleLink(i, j, Relation.SPLIT, float(sim[i, j]))

    def merge(i: int, j: int) -> None:
        links[(i, j)] = ArticleLink(i, j, Relation.MERGED, float(sim[i, j]))

    _add_contained(new_grams, old_grams, partner_of_old, new_done, split)
    _add_contained(old_grams, new_grams, partner_of_new, old_done, merge)
    result = [replace(link, renumbered=old[link.old].label != new[link.new].label) for link in links.values()]
    result += [ArticleLink(i, None, Relation.DELETED, 0.0) for i in range(len(old)) if i not in old_done]
    result += [ArticleLink(None, j, Relation.INSERTED, 0.0) for j in range(len(new)) if j not in new_done]
    return tuple(sorted(result, key=_order_key(partner_of_old)))


def _squash(text: str) -> str:
    return _NOT_TEXT.sub("", text)


def _monotone_pairs(sim: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """The order-preserving pairs (i and j both strictly increasing) with the largest total similarity,
    among the pairs at or above ``threshold``: a maximum-weight increasing subsequence, O(K log K) in
    the number K of candidate pairs with a Fenwick tree of prefix maxima over ``j``."""
    candidates = np.argwhere(sim >= threshold)
    if len(candidates) == 0:
        return []
    m = sim.shape[1]
    tree_value = np.zeros(m + 1)
    tree_index = np.full(m + 1, -1, dtype=np.int64)
    best = np.zeros(len(candidates))
    previous = np.full(len(candidates), -1, dtype=np.int64)

    def query(j: int) -> tuple[float, int]:  # best chain ending at a column < j
        value, index = 0.0, -1
        while j > 0:
            if tree_value[j] > value:
                value, index = tree_value[j], int(tree_index[j])
            j -= j & -j
        return value, index

    def update(j: int, value: float, index: int) -> None:  # column j (0-based) now ends a chain of value
        j += 1
        while j <= m:
            if value > tree_value[j]:
                tree_value[j], tree_index[j] = value, index
            j += j & -j

    start = 0
    while start < len(candidates):  # one row (old article) at a time: pairs of one row never chain
        end = start
        while end < len(candidates) and candidates[end][0] == candidates[start][0]:
            end += 1
        for k in range(start, end):
            value, index = query(int(candidates[k][1]))
            best[k] = value + sim[candidates[k][0], candidates[k][1]]
            previous[k] = index
        for k in range(start, end):
            update(int(candidates[k][1]), best[k], k)
        start = end
    k = int(np.argmax(best))
    chain: list[tuple[int, int]] = []
    while k >= 0:
        chain.append((int(candidates[k][0]), int(candidates[k][1])))
        k = int(previous[k])
    return chain[::-1]


def _add_moves(sim: np.ndarray, old: Sequence[UnitText], new: Sequence[UnitText],
               links: dict[tuple[int, int], ArticleLink], old_done: set[int], new_done: set[int],
               old_grams: list[frozenset[str]], new_grams: list[frozenset[str]]) -> None:
    """Pairs of left-overs of both sides, best first, each the other's best: nearly the same text
    anywhere in the law (:data:`MOVE_THRESHOLD`); or, between the same aligned neighbours or not, a
    reworded text (:data:`LEFTOVER_THRESHOLD`) or one lying mostly inside the other
    (:data:`LEFTOVER_CONTAINMENT`: a paragraph kept, the rest of the article new). A pair that fits the
    order of the aligned articles is an amendment, one against it a move."""
    left_old = [i for i in range(len(old)) if i not in old_done]
    left_new = [j for j in range(len(new)) if j not in new_done]
    if not left_old or not left_new:
        return
    anchors = sorted((i, j) for i, j in links)
    scored = []
    for a, i in enumerate(left_old):
        for b, j in enumerate(left_new):
            dice = float(sim[i, j])
            shorter, longer = sorted((old_grams[i], new_grams[j]), key=len)
            inside = _containment(shorter, longer) if len(shorter) >= _MIN_CONTAINED_BIGRAMS else 0.0
            if dice >= LEFTOVER_THRESHOLD or inside >= LEFTOVER_CONTAINMENT:
                scored.append((max(dice, inside * CONTAINMENT_WEIGHT), i, j, dice))
    scored.sort(reverse=True)
    best_of_old: dict[int, int] = {}
    best_of_new: dict[int, int] = {}
    for _, i, j, _ in scored:  # mutual best: each side's highest-scoring partner among the left-overs
        best_of_old.setdefault(i, j)
        best_of_new.setdefault(j, i)
    for _, i, j, dice in scored:
        if i in old_done or j in new_done or best_of_old[i] != j or best_of_new[j] != i:
            continue
        in_order = _fits_order(anchors, i, j)
        if not in_order and dice < MOVE_THRESHOLD and not _squash(old[i].text) == _squash(new[j].text):
            # against the order only nearly the same text is trusted, unless mostly contained
            if max(_containment(old_grams[i], new_grams[j]), _containment(new_grams[j], old_grams[i])) < 0.8:
                continue
        same = _squash(old[i].text) == _squash(new[j].text)
        relation = Relation.SAME if same and in_order else Relation.AMENDED if in_order else Relation.MOVED
        links[(i, j)] = ArticleLink(i, j, relation, dice)
        old_done.add(i)
        new_done.add(j)
        if in_order:  # a later pair crossing this one is a move, not another amendment in place
            insort(anchors, (i, j))


def _fits_order(anchors: list[tuple[int, int]], i: int, j: int) -> bool:
    """True when (i, j) keeps the order of every aligned pair in ``anchors`` (sorted by old index)."""
    position = bisect_left(anchors, (i, -1))
    before = anchors[position - 1] if position > 0 else None
    after = anchors[position] if position < len(anchors) else None
    return (before is None or before[1] < j) and (after is None or after[1] > j)


def _containment(part: frozenset[str], whole: frozenset[str]) -> float:
    return len(part & whole) / len(part) if part else 0.0


def _add_contained(left_grams: list[frozenset[str]], other_grams: list[frozenset[str]],
                   partner: dict[int, int], done: set[int], link: Callable[[int, int], None]) -> None:
    """A left-over of one side lying mostly inside an article of the other side whose aligned partner
    is near the left-over's place: ``link(left_over, that_article)``. Splits are new left-overs inside
    old articles (``partner``: old -> new), merges old left-overs inside new ones (new -> old)."""
    aligned = sorted(partner.values())
    owner = {mine: theirs for theirs, mine in partner.items()}
    for x in range(len(left_grams)):
        if x in done or len(left_grams[x]) < _MIN_BIGRAMS:
            continue
        position = bisect_left(aligned, x)
        near = aligned[max(0, position - SPLIT_WINDOW):position + SPLIT_WINDOW]
        score, y = max(((_containment(left_grams[x], other_grams[owner[k]]), owner[k]) for k in near),
                       default=(0.0, -1))
        if score >= CONTAINMENT_THRESHOLD:
            link(x, y)
            done.add(x)


def _order_key(partner_of_old: dict[int, int]):
    def key(link: ArticleLink) -> tuple[float, int]:
        if link.new is not None:
            return (link.new, 0 if link.old is None else 1)
        # a deletion sits after the new position of the nearest aligned article before it
        before = [partner_of_old[i] for i in partner_of_old if link.old is not None and i < link.old]
        return (max(before) + 0.5 if before else -0.5, 2)
    return key
