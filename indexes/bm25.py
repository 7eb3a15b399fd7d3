"""BM25 over chunks with bm25s: one vocabulary, each chunk tokenised by its own language.

Build path (why it is not ``bm25s.BM25.index``): tokens are turned into 64-bit token hashes once
and cached by content hash (:class:`indexes.embedding_cache.TokenCache`); a rebuild loads the
cached arrays and computes the BM25 matrix with a handful of vectorised numpy/scipy operations. The
matrix is bm25s's own (CSC arrays, Lucene BM25 variant, scores identical to
``bm25s.BM25(method="lucene").index`` - a test checks it), and it is saved and loaded with bm25s's
own files (arrays + JSON, no pickle) plus ``ids.npy`` (row -> chunk int id), the term counts
(:class:`TermCounts`: ``term_hashes.npy``, ``term_tf.npy``, ``doc_lengths.npy``) and
``ipqa_bm25.json`` (tokenizer id, the bm25s version and ipqa's BM25 format version; written last).

Because the matrix, its files and a few of the ``bm25s.BM25`` attributes it is searched through are
bm25s's internals (set directly by :meth:`Bm25Index._from_counts`), bm25s is pinned to the tested
minor version and a saved index records the version that wrote it: an index written by another
bm25s minor version (or by an ipqa that did not record it) is refused with the advice to rebuild.

Incremental path: IDF and the average length depend on the whole corpus, so every weight changes
when one chunk is added, but the counts they are computed from do not. :meth:`Bm25Index.updated`
starts from a saved index's counts, drops and adds rows (tokenising only the added texts) and
recomputes the weights: the same arrays as a fresh build, in a fraction of its time.

Filters are exact: ``allowed_ids`` becomes bm25s's ``weight_mask``, so the top-k is taken among
allowed chunks only. Only chunks sharing at least one term with the query are returned (a score
of 0 is not a match), so fewer than k results means fewer than k chunks match.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from indexes.embedding_cache import TokenCache
from indexes.text import detect_language
from indexes.tokenize import LANGUAGES, Tokenizer, default_tokenizer
from ipqa.errors import IndexUnavailableError
from ipqa.ids import content_hash

__all__ = ["Bm25Index", "TermCounts", "TokenCache", "token_hash"]

_META_FILE = "ipqa_bm25.json"
_IDS_FILE = "ids.npy"
# the term counts an incremental update starts from (rows and column starts are bm25s's own files)
_HASHES_FILE, _TF_FILE, _LENGTHS_FILE = "term_hashes.npy", "term_tf.npy", "doc_lengths.npy"
_EMPTY_TOKEN = ""  # bm25s convention: a vocabulary entry with no postings
# What ipqa writes into a BM25 directory besides bm25s's own files; bump it when that changes.
BM25_FORMAT = 1


def bm25s_version() -> str:
    """The installed bm25s version (read from the package metadata: importing bm25s is not needed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bm25s")
    except PackageNotFoundError:  # bm25s importable without package metadata (a source checkout)
        import bm25s

        return str(bm25s.__version__)


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def written_by_another_version(meta: dict) -> str | None:
    """Why a saved index's files cannot be trusted by this ipqa and bm25s, or None when they can."""
    recorded, installed = meta.get("bm25s_version"), bm25s_version()
    if "format_version" not in meta and "bm25s_version" not in meta:
        return f"it was written before ipqa recorded the bm25s version (this ipqa runs bm25s {installed})"
    if meta.get("format_version") != BM25_FORMAT:
        return (f"it has ipqa BM25 format {meta.get('format_version')!r}, this ipqa reads format {BM25_FORMAT} "
                f"(with bm25s {installed})")
    if not isinstance(recorded, str) or _minor(recorded) != _minor(installed):
        return f"it was written by bm25s {recorded!r}, this ipqa runs bm25s {installed}"
    return None


def token_hash(token: str) -> int:
    """Deterministic signed 64-bit hash of a token (the id it has in the token cache)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class _PieceHashes(dict):
    """raw piece -> hashes of the tokens it becomes, computed once per distinct piece; remembers
    the token behind every hash it made (``vocabulary``)."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__()
        self._normalise = tokenizer.normalise
        self.vocabulary: dict[int, str] = {}

    def __missing__(self, piece: str) -> tuple[int, ...]:
        hashes = []
        for token in self._normalise(piece):
            h = token_hash(token)
            self.vocabulary[h] = token
            hashes.append(h)
        value = self[piece] = tuple(hashes)
        return value


def _validate_ids(ids: Sequence[int], what: str) -> np.ndarray:
    array = np.asarray(ids, dtype=np.int64).reshape(-1)
    if len(np.unique(array)) != len(array):
        values, counts = np.unique(array, return_counts=True)
        raise ValueError(f"{what}: duplicate ids {values[counts > 1][:5].tolist()}")
    return array


def _token_arrays(texts: Sequence[str], languages: Sequence[str], tokenizer: Tokenizer,
                  token_cache: TokenCache | None, *, read_cache: bool = True
                  ) -> tuple[list[np.ndarray], dict[int, str]]:
    """Token-hash array per text, and the tokens behind the hashes of the texts tokenised now."""
    keys = [(language, content_hash(text)) for text, language in zip(texts, languages)]
    cached = token_cache.get_many(tokenizer.id, keys) if token_cache is not None and read_cache else {}
    piece_hashes = _PieceHashes(tokenizer)
    lookup = piece_hashes.__getitem__
    fresh: dict[tuple[str, str], np.ndarray] = {}
    arrays: list[np.ndarray] = []
    for key, text in zip(keys, texts):
        array = cached.get(key)
        if array is None:
            array = fresh.get(key)
        if array is None:
            pieces = tokenizer.pieces(text, key[0])
            array = fresh[key] = np.fromiter(chain.from_iterable(map(lookup, pieces)), dtype=np.int64)
        arrays.append(array)
    vocabulary = piece_hashes.vocabulary
    if token_cache is not None and fresh:
        token_cache.put_many(tokenizer.id, fresh, vocabulary)
    return arrays, vocabulary


@dataclass(frozen=True)
class TermCounts:
    """The corpus statistics BM25 weights are computed from, in bm25s's CSC layout (one column per
    distinct token hash, rows are documents).

    Saved next to the score matrix so that an incremental update can drop and add rows and
    recompute the IDF- and avgdl-dependent weights without tokenising (or even reading) the
    unchanged documents: a score is ``idf(t) * tf / (tf + k1 * (1 - b + b * len(d) / avgdl))``,
    and ``tf``, ``len(d)`` and the document frequencies are all here.
    """

    hashes: np.ndarray  # int64, sorted distinct token hashes: column -> token hash
    column_start: np.ndarray  # int64, n_vocab + 1: pairs of column c are [column_start[c], column_start[c+1])
    rows: np.ndarray  # int32 row of each (column, row) pair, ascending within a column
    tf: np.ndarray  # float32 term frequency of each pair
    lengths: np.ndarray  # int64 token count of each row


def _count_terms(arrays: list[np.ndarray], hashes: np.ndarray, columns: np.ndarray) -> TermCounts:
    """Term frequencies of token-hash arrays; ``hashes`` are the sorted distinct token hashes,
    ``columns`` each occurrence's index into them."""
    import scipy.sparse

    n_docs, n_vocab = len(arrays), len(hashes)
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=n_docs)
    if n_vocab == 0:
        return TermCounts(hashes=np.empty(0, np.int64), column_start=np.zeros(1, np.int64),
                          rows=np.empty(0, np.int32), tf=np.empty(0, np.float32), lengths=lengths)
    rows = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    # Term frequencies: scipy builds CSC by counting (no global sort) and sums repeated (row, column)
    # pairs - 5x faster than np.unique over pair keys on the full corpus.
    counts = scipy.sparse.csc_matrix((np.ones(len(columns), dtype=np.float32), (rows, columns)),
                                     shape=(n_docs, n_vocab))
    counts.sum_duplicates()
    return TermCounts(hashes=hashes, column_start=counts.indptr.astype(np.int64),
                      rows=counts.indices.astype(np.int32), tf=counts.data.astype(np.float32),
                      lengths=lengths)


def _lucene_matrix(counts: TermCounts, *, k1: float, b: float) -> dict[str, object]:
    """bm25s's score arrays (Lucene variant) from term counts.

    Fresh builds and incremental updates both come through here, so equal counts give bit-identical
    scores.
    """
    n_docs, n_vocab = len(counts.lengths), len(counts.hashes)
    if n_vocab == 0:
        return {"data": np.empty(0, np.float32), "indices": np.empty(0, np.int32),
                "indptr": np.zeros(2, np.int64), "num_docs": n_docs}
    lengths, tf, pair_row = counts.lengths, counts.tf, counts.rows
    df = np.diff(counts.column_start)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    average_length = lengths.mean() if lengths.sum() else 1.0
    # per row, then gathered per pair (the same float operations on the same values as per pair)
    length_norm = (k1 * (1.0 - b + b * lengths / average_length))[pair_row]
    data = (np.repeat(idf, df) * tf / (tf + length_norm)).astype(np.float32)
    indptr = np.empty(n_vocab + 2, dtype=np.int64)  # + 1 column for the empty token
    indptr[: n_vocab + 1] = counts.column_start
    indptr[-1] = indptr[-2]
    return {"data": data, "indices": pair_row.astype(np.int32), "indptr": indptr, "num_docs": n_docs}


def _vocab_dict(hashes: np.ndarray, vocabulary: dict[int, str]) -> dict[str, int] | None:
    """token -> column for bm25s; None when a hash has no known token."""
    vocab_dict: dict[str, int] = {}
    for column, h in enumerate(hashes.tolist()):
        token = vocabulary.get(h)
        if token is None:
            return None
        vocab_dict[token] = column
    vocab_dict.setdefault(_EMPTY_TOKEN, len(hashes))
    return vocab_dict


def _build_counts(texts: Sequence[str], languages: Sequence[str], tokenizer: Tokenizer,
                  token_cache: TokenCache | None, *, read_cache: bool = True
                  ) -> tuple[TermCounts, dict[str, int]]:
    arrays, vocabulary = _token_arrays(texts, languages, tokenizer, token_cache, read_cache=read_cache)
    flat = np.concatenate(arrays) if arrays else np.empty(0, np.int64)
    hashes = np.unique(flat)
    columns = np.searchsorted(hashes, flat)  # 4x faster than np.unique(..., return_inverse=True)
    vocab_dict = _complete_vocabulary(hashes, vocabulary, token_cache if read_cache else None)
    if vocab_dict is None:  # the cache lost vocabulary rows: tokenise everything afresh (and re-cache)
        return _build_counts(texts, languages, tokenizer, token_cache, read_cache=False)
    return _count_terms(arrays, hashes, columns), vocab_dict


def _complete_vocabulary(hashes: np.ndarray, vocabulary: dict[int, str],
                         token_cache: TokenCache | None) -> dict[str, int] | None:
    """token -> column for ``hashes``, asking the token cache for tokens not in ``vocabulary``."""
    if token_cache is not None:
        unknown = hashes[~np.isin(hashes, np.fromiter(vocabulary, np.int64, len(vocabulary)))]
        if len(unknown):
            vocabulary.update(token_cache.tokens_for(unknown))
    return _vocab_dict(hashes, vocabulary)


def _updated_counts(base: TermCounts, base_ids: np.ndarray, remove_ids: np.ndarray, add_ids: np.ndarray,
                    add_arrays: list[np.ndarray]) -> tuple[np.ndarray, TermCounts]:
    """(ids, counts) of ``base`` without the rows of ``remove_ids`` and with ``add_arrays`` as the rows
    of ``add_ids``, all rows in ascending id order: exactly what counting the whole corpus afresh in
    that order gives (same columns, same pair order).

    The base's pairs are only filtered (when rows are removed), renumbered and copied around the
    added pairs - no per-pair column array, no sort over all pairs - so an add costs a few
    passes over the pair arrays. ``base_ids`` must be ascending (every index a job builds is: rows
    follow the store's int ids).
    """
    removed_rows = np.isin(base_ids, remove_ids)
    if int(removed_rows.sum()) != len(np.unique(remove_ids)):
        missing = np.setdiff1d(remove_ids, base_ids)
        raise ValueError(f"Bm25Index.updated: ids {missing[:5].tolist()} are not in the base index")
    kept_ids = base_ids[~removed_rows] if len(remove_ids) else base_ids
    ids = np.sort(np.concatenate([kept_ids, add_ids]))
    if len(ids) and np.any(ids[1:] == ids[:-1]):
        duplicates = np.intersect1d(kept_ids, add_ids)
        raise ValueError(f"Bm25Index.updated: ids {duplicates[:5].tolist()} are already in the index")

    # the base's surviving pairs and their document frequencies (column order unchanged)
    df = np.diff(base.column_start)
    old_rows, old_tf = base.rows, base.tf
    if len(remove_ids):
        removed_pairs = removed_rows[old_rows]
        removed_columns = np.searchsorted(base.column_start, np.flatnonzero(removed_pairs), side="right") - 1
        df = df - np.bincount(removed_columns, minlength=len(df))
        old_rows, old_tf = old_rows[~removed_pairs], old_tf[~removed_pairs]
    # renumber rows: a monotonic map, so each column's pairs stay in row order
    row_of_kept = np.searchsorted(ids, kept_ids)
    row_map = np.full(len(base_ids), -1, dtype=np.int32)
    row_map[~removed_rows] = row_of_kept
    old_rows = row_map[old_rows]

    # the new vocabulary: surviving base tokens plus the added documents' tokens, sorted by hash
    add_lengths = np.fromiter((len(a) for a in add_arrays), dtype=np.int64, count=len(add_arrays))
    add_flat = np.concatenate(add_arrays) if add_arrays else np.empty(0, np.int64)
    surviving = df > 0
    hashes = np.union1d(base.hashes[surviving], add_flat)
    n_vocab = len(hashes)
    old_df = np.zeros(n_vocab, dtype=np.int64)
    old_df[np.searchsorted(hashes, base.hashes[surviving])] = df[surviving]
    old_start = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(old_df, out=old_start[1:])

    # the added pairs, counted and sorted by (column, row)
    n_rows = max(len(ids), 1)
    add_rows = np.repeat(np.searchsorted(ids, add_ids), add_lengths)
    add_keys, add_tf = np.unique(np.searchsorted(hashes, add_flat) * n_rows + add_rows, return_counts=True)
    add_columns, add_rows = np.divmod(add_keys, n_rows)

    # where each added pair goes among the base's pairs: bisect inside its column's segment
    at = _bisect_segments(old_rows, old_start[add_columns], old_start[add_columns + 1], add_rows)
    rows = np.insert(old_rows, at, add_rows.astype(np.int32))
    tf = np.insert(old_tf, at, add_tf.astype(np.float32))
    column_start = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(old_df + np.bincount(add_columns, minlength=n_vocab), out=column_start[1:])

    lengths = np.zeros(len(ids), dtype=np.int64)
    lengths[row_of_kept] = base.lengths[~removed_rows] if len(remove_ids) else base.lengths
    lengths[np.searchsorted(ids, add_ids)] = add_lengths
    return ids, TermCounts(hashes=hashes, column_start=column_start, rows=rows, tf=tf, lengths=lengths)


def _bisect_segments(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each i, the first position in ``values[lo[i]:hi[i]]`` (ascending) whose value is not below
    ``targets[i]`` - ``np.searchsorted`` per segment, vectorised over all segments at once."""
    lo, hi = lo.copy(), hi.copy()
    last = max(len(values) - 1, 0)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        below = active & (values[np.minimum(mid, last)] < targets) if len(values) else active & False
        lo = np.where(below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)


class Bm25Index:
    """An immutable BM25 index over chunks identified by int64 ids."""

    def __init__(self, ids: np.ndarray, retriever: "object", *, tokenizer: Tokenizer | None = None,
                 counts: TermCounts | None = None) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._masks: dict[bytes, np.ndarray] = {}  # see _weight_mask
        self._id_order: tuple[np.ndarray, np.ndarray] | None = None  # see _rows_of
        self._masks_by_identity: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # see _weight_mask
        self._retriever = retriever
        self._tokenizer = tokenizer or default_tokenizer()
        self._counts = counts  # kept to be saved for the next incremental update (None once loaded)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str], languages: Sequence[str], *, k1: float = 1.2,
              b: float = 0.75, token_cache: TokenCache | None = None,
              tokenizer: Tokenizer | None = None) -> "Bm25Index":
        """Index ``texts`` (tokenised each by its language) under ``ids``.

        With a ``token_cache``, texts whose (language, content hash) were tokenised before are not
        tokenised again, and newly tokenised ones are added to the cache.
        """
        _check_texts("Bm25Index.build", ids, texts, languages)
        _check_parameters("Bm25Index.build", k1, b)
        id_array = _validate_ids(ids, "Bm25Index.build")
        tokenizer = tokenizer or default_tokenizer()
        counts, vocab_dict = _build_counts(texts, languages, tokenizer, token_cache)
        return cls._from_counts(id_array, counts, vocab_dict, k1=k1, b=b, tokenizer=tokenizer)

    @classmethod
    def updated(cls, base_directory: Path, *, remove_ids: Sequence[int], add_ids: Sequence[int],
                add_texts: Sequence[str], add_languages: Sequence[str], k1: float = 1.2, b: float = 0.75,
                token_cache: TokenCache | None = None,
                tokenizer: Tokenizer | None = None) -> "Bm25Index | None":
        """The saved index at ``base_directory`` without ``remove_ids`` and with the added texts: the
        same index (same arrays, same scores) as :meth:`build` over the resulting rows in ascending
        id order, but only the added texts are tokenised and nothing is counted again.

        Returns None when the base cannot be updated (saved without term counts, by another
        tokenizer or bm25s version, with other k1/b, or rows not in id order): the caller then
        builds afresh.
        """
        _check_texts("Bm25Index.updated", add_ids, add_texts, add_languages)
        _check_parameters("Bm25Index.updated", k1, b)
        add_array = _validate_ids(add_ids, "Bm25Index.updated")
        remove_array = np.asarray(remove_ids, dtype=np.int64).reshape(-1)
        tokenizer = tokenizer or default_tokenizer()
        base = _load_counts(Path(base_directory), tokenizer=tokenizer, k1=k1, b=b)
        if base is None:
            return None
        base_ids, base_counts, base_vocab = base
        arrays, vocabulary = _token_arrays(add_texts, add_languages, tokenizer, token_cache)
        ids, counts = _updated_counts(base_counts, base_ids, remove_array, add_array, arrays)
        tokens = _tokens_by_column(base_vocab, len(base_counts.hashes))
        vocabulary.update((int(h), t) for h, t in zip(base_counts.hashes.tolist(), tokens))
        vocab_dict = _complete_vocabulary(counts.hashes, vocabulary, token_cache)
        if vocab_dict is None:  # an added text's tokens are missing from a damaged cache
            fresh, fresh_vocabulary = _token_arrays(add_texts, add_languages, tokenizer, token_cache,
                                                    read_cache=False)
            ids, counts = _updated_counts(base_counts, base_ids, remove_array, add_array, fresh)
            vocabulary.update(fresh_vocabulary)
            vocab_dict = _vocab_dict(counts.hashes, vocabulary)
            if vocab_dict is None:
                return None
        return cls._from_counts(ids, counts, vocab_dict, k1=k1, b=b, tokenizer=tokenizer)

    @classmethod
    def _from_counts(cls, ids: np.ndarray, counts: TermCounts, vocab_dict: dict[str, int], *, k1: float,
                     b: float, tokenizer: Tokenizer) -> "Bm25Index":
        bm25s = import_bm25s()

        retriever = bm25s.BM25(k1=k1, b=b, method="lucene", backend="numpy")
        retriever.scores = _lucene_matrix(counts, k1=k1, b=b)
        retriever.vocab_dict = vocab_dict
        retriever.unique_token_ids_set = set(vocab_dict.values())
        retriever.nonoccurrence_array = None
        return cls(ids, retriever, tokenizer=tokenizer, counts=counts)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write bm25s's files, ``ids.npy`` and, last, ``ipqa_bm25.json`` (its presence = complete)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _META_FILE).unlink(missing_ok=True)
        self._retriever.save(directory, show_progress=False)
        np.save(directory / _IDS_FILE, self._ids, allow_pickle=False)
        if self._counts is not None:
            np.save(directory / _HASHES_FILE, self._counts.hashes, allow_pickle=False)
            np.save(directory / _TF_FILE, self._counts.tf, allow_pickle=False)
            np.save(directory / _LENGTHS_FILE, self._counts.lengths, allow_pickle=False)
        meta = {"format_version": BM25_FORMAT, "bm25s_version": bm25s_version(),
                "tokenizer": self._tokenizer.id, "num_docs": len(self._ids),
                "k1": self._retriever.k1, "b": self._retriever.b, "method": self._retriever.method,
                "term_counts": self._counts is not None}
        temporary = directory / (_META_FILE + ".tmp")
        temporary.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(temporary, directory / _META_FILE)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = False) -> "Bm25Index":
        """Open a saved index; ``IndexUnavailableError`` if it is incomplete, from another tokenizer, or
        written by another bm25s minor version or ipqa BM25 format."""
        bm25s = import_bm25s()

        directory = Path(directory)
        meta_path = directory / _META_FILE
        if not meta_path.is_file():
            raise IndexUnavailableError(f"{directory}: no complete BM25 index ({_META_FILE} missing)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        foreign = written_by_another_version(meta)
        if foreign:
            raise IndexUnavailableError(
                f"{directory}: the BM25 index cannot be read: {foreign}; rebuild the index with "
                "`ipqa index rebuild --source PATH...`")
        tokenizer = default_tokenizer()
        if meta.get("tokenizer") != tokenizer.id:
            raise IndexUnavailableError(
                f"{directory}: BM25 index was built with tokenizer {meta.get('tokenizer')!r}, this code uses "
                f"{tokenizer.id!r}; rebuild the index"
            )
        try:
            retriever = bm25s.BM25.load(directory, mmap=mmap, show_progress=False)
            ids = np.load(directory / _IDS_FILE, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise IndexUnavailableError(f"{directory}: cannot read BM25 index: {exc}") from exc
        if len(ids) != retriever.scores["num_docs"]:
            raise IndexUnavailableError(
                f"{directory}: {len(ids)} ids for {retriever.scores['num_docs']} BM25 documents"
            )
        return cls(ids, retriever, tokenizer=tokenizer)

    # ------------------------------------------------------------------ reading
    @property
    def ids(self) -> np.ndarray:
        """The chunk ids, in row order (a read-only view)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    def __len__(self) -> int:
        return len(self._ids)

    def query_tokens(self, query: str, language: str | None = None) -> list[str]:
        """The query's tokens that are in the vocabulary (what the score is made of)."""
        tokens = self._tokenizer.tokenize(query, language or detect_language(query))
        vocab = self._retriever.vocab_dict
        return [token for token in tokens if token in vocab]

    def matched_terms(self, tokens: Iterable[str], int_ids: Sequence[int]) -> np.ndarray:
        """For each of ``int_ids``, how many of the distinct ``tokens`` its indexed text contains
        (int32; 0 for an id not in the index, and tokens not in the vocabulary match nothing).

        Read from the postings: a column's rows are ascending, so each token costs one binary search
        of the candidates' rows in its column. Tokenising the candidates' texts instead cost the
        learned reranker ~5 ms a search over 300 candidates.
        """
        ids = np.asarray(int_ids, dtype=np.int64).reshape(-1)
        counts = np.zeros(len(ids), dtype=np.int32)
        vocab = self._retriever.vocab_dict
        columns = sorted({vocab[t] for t in set(tokens) if t != _EMPTY_TOKEN and t in vocab})
        if not len(ids) or not columns or not len(self._ids):
            return counts
        rows, known = self._rows_of(ids)
        matrix = self._retriever.scores
        indptr, indices = matrix["indptr"], matrix["indices"]
        # the postings' own dtype (int32): searchsorted would otherwise convert each column it searches
        targets = rows[known].astype(indices.dtype, copy=False)
        found = np.zeros(len(targets), dtype=np.int32)
        for column in columns:
            postings = indices[int(indptr[column]):int(indptr[column + 1])]
            if not len(postings):
                continue
            at = np.minimum(np.searchsorted(postings, targets), len(postings) - 1)
            found += postings[at] == targets
        counts[known] = found
        return counts

    def _rows_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row of each id, whether the id is in the index); rows of unknown ids are meaningless."""
        if self._id_order is None:  # computed once; two threads racing compute the same arrays
            order = np.argsort(self._ids, kind="stable")
            self._id_order = (order, self._ids[order])
        order, sorted_ids = self._id_order
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        return order[at], sorted_ids[at] == ids

    def search(self, query: str, k: int, allowed_ids: np.ndarray | None = None,
               language: str | None = None) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk id, score) pairs, best first, among ``allowed_ids`` when given.

        ``language`` defaults to the query's detected language; it picks the tokeniser.
        """
        if k <= 0:
            raise ValueError(f"Bm25Index.search: k must be positive, got {k}")
        if not len(self._ids):
            return []
        vocab = self._retriever.vocab_dict
        columns = [vocab[token] for token in self.query_tokens(query, language)]
        if not columns:
            return []
        weight_mask = None if allowed_ids is None else self._weight_mask(np.asarray(allowed_ids, dtype=np.int64))
        scores = self._retriever.get_scores_from_ids(columns, weight_mask=weight_mask)
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            matching = matching[np.argpartition(-scores[matching], k - 1)[:k]]
        order = matching[np.lexsort((matching, -scores[matching]))]  # ties: earlier row first
        return [(int(self._ids[row]), float(scores[row])) for row in order]


    # Masks of the last few allowed-id arrays: a filter repeats from query to query (the default
    # as_of date allows nearly every chunk), and building the mask costs more than the search.
    _MASKS_KEPT = 16

    def _weight_mask(self, allowed: np.ndarray) -> np.ndarray:
        # The store hands out the same read-only cached array for a repeated filter: recognising it by
        # identity spares hashing its ~650 KB on every search (each entry keeps its array alive, so the
        # id cannot be reused by another; several, as one search alternates the main list's filter and
        # a named law's). A writable array may have changed since: it is hashed.
        known = self._masks_by_identity.get(id(allowed))
        if known is not None and known[0] is allowed and not allowed.flags.writeable:
            return known[1]
        key = hashlib.blake2b(allowed.tobytes(), digest_size=16).digest()
        masks = self._masks
        mask = masks.get(key)
        if mask is None:
            mask = np.isin(self._ids, allowed).astype(np.float32)
            mask.flags.writeable = False
            if len(masks) >= self._MASKS_KEPT:
                masks.clear()  # (not one by one: readers on other threads share this dict)
            masks[key] = mask
        if len(self._masks_by_identity) >= self._MASKS_KEPT:
            self._masks_by_identity.clear()
        self._masks_by_identity[id(allowed)] = (allowed, mask)
        return mask


def import_bm25s() -> Any:
    """``import bm25s`` without its numba backend.

    Why: bm25s imports numba at import time when it is installed (unstructured installs it), for
    its numba backend only; ipqa always uses the numpy backend (``backend="numpy"``, saved in the
    index's parameters). Importing numba and llvmlite cost 0.36-0.6 s and ~40 MB in every command
    that opens an index. Hiding numba while bm25s imports makes bm25s take its no-numba path; the
    entry is removed again, so anything else may still import numba.
    """
    import sys

    if "bm25s" in sys.modules or "numba" in sys.modules:
        import bm25s

        return bm25s
    sys.modules["numba"] = None  # type: ignore[assignment]  # makes `import numba` raise ImportError
    try:
        import bm25s
    finally:
        if sys.modules.get("numba", 0) is None:
            del sys.modules["numba"]
    return bm25s


def _check_texts(what: str, ids: Sequence[int], texts: Sequence[str], languages: Sequence[str]) -> None:
    if not (len(ids) == len(texts) == len(languages)):
        raise ValueError(f"{what}: {len(ids)} ids, {len(texts)} texts, {len(languages)} languages")
    bad = sorted(set(languages) - set(LANGUAGES))
    if bad:
        raise ValueError(f"{what}: unknown languages {bad}; valid: {', '.join(LANGUAGES)}")


def _check_parameters(what: str, k1: float, b: float) -> None:
    if k1 <= 0 or not 0 <= b <= 1:
        raise ValueError(f"{what}: need k1 > 0 and 0 <= b <= 1, got k1={k1}, b={b}")


def _load_counts(directory: Path, *, tokenizer: Tokenizer, k1: float, b: float
                 ) -> tuple[np.ndarray, TermCounts, dict[str, int]] | None:
    """(ids, term counts, vocabulary) of a saved index, or None when it cannot be updated."""
    meta_path = directory / _META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not meta.get("term_counts") or meta.get("tokenizer") != tokenizer.id or meta.get("method") != "lucene"
            or meta.get("k1") != k1 or meta.get("b") != b or written_by_another_version(meta)):
        return None
    try:
        ids = np.load(directory / _IDS_FILE, allow_pickle=False)
        column_start = np.load(directory / "indptr.csc.index.npy", allow_pickle=False)[:-1].astype(np.int64)
        rows = np.load(directory / "indices.csc.index.npy", allow_pickle=False).astype(np.int32, copy=False)
        counts = TermCounts(hashes=np.load(directory / _HASHES_FILE, allow_pickle=False),
                            column_start=column_start, rows=rows,
                            tf=np.load(directory / _TF_FILE, allow_pickle=False),
                            lengths=np.load(directory / _LENGTHS_FILE, allow_pickle=False))
        vocab_dict = json.loads((directory / "vocab.index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    consistent = (len(counts.column_start) == len(counts.hashes) + 1 and len(counts.rows) == len(counts.tf)
                  == counts.column_start[-1] and len(counts.lengths) == len(ids)
                  and bool(np.all(np.diff(ids) > 0)))
    return (ids, counts, vocab_dict) if consistent else None


def _tokens_by_column(vocab_dict: dict[str, int], n_columns: int) -> list[str]:
    tokens = [""] * n_columns
    for token, column in vocab_dict.items():
        if column < n_columns:
            tokens[column] = token
    return tokens
