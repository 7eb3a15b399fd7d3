"""BM25 over chunks with bm25s: one vocabulary, each chunk tokenised by its own language.

Build path (why it is not ``bm25s.BM25.index``): tokens are turned into 64-bit token hashes once
and cached by content hash (:class:`indexes.embedding_cache.TokenCache`); a rebuild loads the
cached arrays and computes the BM25 matrix with a handful of vectorised numpy/scipy operations. Because
IDF depends on the whole corpus, adding one chunk means rebuilding the matrix, and this is what
keeps that under a second or two on the full corpus. The matrix is bm25s's own (CSC arrays,
Lucene BM25 variant, scores identical to ``bm25s.BM25(method="lucene").index`` - a test checks
it), and it is saved and loaded with bm25s's own files (arrays + JSON, no pickle) plus
``ids.npy`` (row -> chunk int id) and ``ipqa_bm25.json`` (tokenizer id, written last).

Filters are exact: ``allowed_ids`` becomes bm25s's ``weight_mask``, so the top-k is taken among
allowed chunks only. Only chunks sharing at least one term with the query are returned (a score
of 0 is not a match), so fewer than k results means fewer than k chunks match.
"""

from __future__ import annotations

import hashlib
import json
import os
from itertools import chain
from pathlib import Path
from typing import Sequence

import numpy as np

from indexes.embedding_cache import TokenCache
from indexes.text import detect_language
from indexes.tokenize import LANGUAGES, Tokenizer, default_tokenizer
from ipqa.errors import IndexUnavailableError
from ipqa.ids import content_hash

__all__ = ["Bm25Index", "TokenCache", "token_hash"]

_META_FILE = "ipqa_bm25.json"
_IDS_FILE = "ids.npy"
_EMPTY_TOKEN = ""  # bm25s convention: a vocabulary entry with no postings


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


def _lucene_matrix(arrays: list[np.ndarray], hashes: np.ndarray, columns: np.ndarray, *, k1: float, b: float
                   ) -> dict[str, object]:
    """bm25s's score arrays: CSC with one column per distinct token hash, rows are documents.

    ``hashes`` are the sorted distinct token hashes, ``columns`` each occurrence's index into them.
    """
    import scipy.sparse

    n_docs, n_vocab = len(arrays), len(hashes)
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=n_docs)
    if n_vocab == 0:
        return {"data": np.empty(0, np.float32), "indices": np.empty(0, np.int32),
                "indptr": np.zeros(2, np.int64), "num_docs": n_docs}
    rows = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    # Term frequencies: scipy builds CSC by counting (no global sort) and sums repeated (row, column)
    # pairs - 5x faster than np.unique over pair keys on the full corpus.
    counts = scipy.sparse.csc_matrix((np.ones(len(columns), dtype=np.float32), (rows, columns)),
                                     shape=(n_docs, n_vocab))
    counts.sum_duplicates()
    tf, pair_row, column_start = counts.data, counts.indices, counts.indptr
    df = np.diff(column_start)
    pair_column = np.repeat(np.arange(n_vocab, dtype=np.int64), df)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
    average_length = lengths.mean() if lengths.sum() else 1.0
    length_norm = k1 * (1.0 - b + b * lengths[pair_row] / average_length)
    data = (idf[pair_column] * tf / (tf + length_norm)).astype(np.float32)
    indptr = np.empty(n_vocab + 2, dtype=np.int64)  # + 1 column for the empty token
    indptr[: n_vocab + 1] = column_start
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


def _build_arrays(texts: Sequence[str], languages: Sequence[str], tokenizer: Tokenizer,
                  token_cache: TokenCache | None, *, k1: float, b: float, read_cache: bool = True
                  ) -> tuple[dict[str, object], dict[str, int]]:
    arrays, vocabulary = _token_arrays(texts, languages, tokenizer, token_cache, read_cache=read_cache)
    flat = np.concatenate(arrays) if arrays else np.empty(0, np.int64)
    hashes = np.unique(flat)
    columns = np.searchsorted(hashes, flat)  # 4x faster than np.unique(..., return_inverse=True)
    if token_cache is not None and read_cache:
        unknown = hashes[~np.isin(hashes, np.fromiter(vocabulary, np.int64, len(vocabulary)))]
        if len(unknown):
            vocabulary.update(token_cache.tokens_for(unknown))
    vocab_dict = _vocab_dict(hashes, vocabulary)
    if vocab_dict is None:  # the cache lost vocabulary rows: tokenise everything afresh (and re-cache)
        return _build_arrays(texts, languages, tokenizer, token_cache, k1=k1, b=b, read_cache=False)
    return _lucene_matrix(arrays, hashes, columns, k1=k1, b=b), vocab_dict


class Bm25Index:
    """An immutable BM25 index over chunks identified by int64 ids."""

    def __init__(self, ids: np.ndarray, retriever: "object", *, tokenizer: Tokenizer | None = None) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._retriever = retriever
        self._tokenizer = tokenizer or default_tokenizer()

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str], languages: Sequence[str], *, k1: float = 1.2,
              b: float = 0.75, token_cache: TokenCache | None = None,
              tokenizer: Tokenizer | None = None) -> "Bm25Index":
        """Index ``texts`` (tokenised each by its language) under ``ids``.

        With a ``token_cache``, texts whose (language, content hash) were tokenised before are not
        tokenised again, and newly tokenised ones are added to the cache.
        """
        import bm25s

        if not (len(ids) == len(texts) == len(languages)):
            raise ValueError(f"Bm25Index.build: {len(ids)} ids, {len(texts)} texts, "
                             f"{len(languages)} languages")
        bad = sorted({language for language in languages} - set(LANGUAGES))
        if bad:
            raise ValueError(f"Bm25Index.build: unknown languages {bad}; valid: {', '.join(LANGUAGES)}")
        if k1 <= 0 or not 0 <= b <= 1:
            raise ValueError(f"Bm25Index.build: need k1 > 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        id_array = _validate_ids(ids, "Bm25Index.build")
        tokenizer = tokenizer or default_tokenizer()
        scores, vocab_dict = _build_arrays(texts, languages, tokenizer, token_cache, k1=k1, b=b)
        retriever = bm25s.BM25(k1=k1, b=b, method="lucene", backend="numpy")
        retriever.scores = scores
        retriever.vocab_dict = vocab_dict
        retriever.unique_token_ids_set = set(vocab_dict.values())
        retriever.nonoccurrence_array = None
        return cls(id_array, retriever, tokenizer=tokenizer)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write bm25s's files, ``ids.npy`` and, last, ``ipqa_bm25.json`` (its presence = complete)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _META_FILE).unlink(missing_ok=True)
        self._retriever.save(directory, show_progress=False)
        np.save(directory / _IDS_FILE, self._ids, allow_pickle=False)
        meta = {"tokenizer": self._tokenizer.id, "num_docs": len(self._ids),
                "k1": self._retriever.k1, "b": self._retriever.b, "method": self._retriever.method}
        temporary = directory / (_META_FILE + ".tmp")
        temporary.write_text(json.dumps(meta, indent=2), encoding="utf-8")
        os.replace(temporary, directory / _META_FILE)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = False) -> "Bm25Index":
        """Open a saved index; ``IndexUnavailableError`` if it is incomplete or from another tokenizer."""
        import bm25s

        directory = Path(directory)
        meta_path = directory / _META_FILE
        if not meta_path.is_file():
            raise IndexUnavailableError(f"{directory}: no complete BM25 index ({_META_FILE} missing)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
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
        weight_mask = None
        if allowed_ids is not None:
            weight_mask = np.isin(self._ids, np.asarray(allowed_ids, dtype=np.int64)).astype(np.float32)
        scores = self._retriever.get_scores_from_ids(columns, weight_mask=weight_mask)
        matching = np.flatnonzero(scores > 0)
        if len(matching) > k:
            matching = matching[np.argpartition(-scores[matching], k - 1)[:k]]
        order = matching[np.lexsort((matching, -scores[matching]))]  # ties: earlier row first
        return [(int(self._ids[row]), float(scores[row])) for row in order]
