"""One embedder per language behind the one :class:`indexes.protocols.Embedder` an index is built with.

Why: no single model here serves both languages — the bundled MiniLM turns most Chinese into [UNK],
and the Chinese model is trained here (:mod:`indexes.static_embedder`). Each text goes to the model of
its language; vectors are zero-padded to the widest model's dimension so that one FAISS index holds
them all. Vectors of different models are not comparable, so a dense search only ever compares a
query with documents of its own language (:meth:`indexes.snapshot.Snapshot.search_dense_ids`
restricts the search to it when the embedder :func:`routes_languages`).

The name records every part's name, so an index built with other models is refused as before; the
build's embedding cache is keyed by each part's own name (:func:`part_for`), so adding the Chinese
model does not re-embed the English chunks.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from indexes.protocols import Embedder
from indexes.text import detect_language
from ipqa.errors import ConfigError


class LanguageRoutedEmbedder:
    """Routes each text to the embedder of its language (detected as the index detects it)."""

    def __init__(self, parts: Mapping[str, Embedder]) -> None:
        if len(parts) < 2:
            raise ConfigError(f"routed embedder: needs embedders for two or more languages, got {sorted(parts)}")
        for language, part in parts.items():
            if language not in part.languages:
                raise ConfigError(f"routed embedder: the {language!r} embedder {part.name} serves "
                                  f"{sorted(part.languages)}, not {language!r}")
        self._parts = dict(parts)
        self.languages = frozenset(parts)
        self.dimension = max(part.dimension for part in parts.values())
        self.name = "+".join(f"{language}={part.name}" for language, part in sorted(parts.items()))

    def __repr__(self) -> str:
        return f"LanguageRoutedEmbedder({', '.join(f'{k}={v!r}' for k, v in sorted(self._parts.items()))})"

    @property
    def parts(self) -> Mapping[str, Embedder]:
        return dict(self._parts)

    def part(self, language: str) -> Embedder:
        try:
            return self._parts[language]
        except KeyError:
            raise ConfigError(f"routed embedder: no embedder for language {language!r}; "
                              f"languages: {sorted(self._parts)}") from None

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode_query/encode_document take a sequence of texts, not one string")
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        by_language: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            by_language.setdefault(detect_language(text), []).append(row)
        for language, rows in by_language.items():
            part = self._parts.get(language)
            if part is None:  # a language no part serves: a zero vector, which matches nothing
                continue
            encode = part.encode_query if query else part.encode_document
            vectors = np.asarray(encode([texts[row] for row in rows]), dtype=np.float32)
            out[rows, :vectors.shape[1]] = vectors
        return out

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def encode_document(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)


def routes_languages(embedder: object) -> bool:
    """Whether ``embedder``'s vectors of different languages come from different models."""
    return isinstance(embedder, LanguageRoutedEmbedder)


def document_vectors_name(embedder: Embedder) -> str:
    """The embedding-cache key of ``embedder``'s document vectors: its ``document_vectors_name``
    when it has one (a runtime whose vectors differ from the reference, e.g. ``minilm@bf16``), else
    its name."""
    return str(getattr(embedder, "document_vectors_name", embedder.name))


def part_for(embedder: Embedder, language: str) -> Embedder:
    """The model that embeds ``language`` for ``embedder`` (itself unless it routes languages)."""
    return embedder.part(language) if isinstance(embedder, LanguageRoutedEmbedder) else embedder
