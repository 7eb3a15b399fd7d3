"""What gets indexed for a chunk, and which language a piece of text is in."""

from __future__ import annotations


from ipqa.domain import Chunk, Document
from ipqa.language import detect_language  # re-exported: indexes and rag import it from here

__all__ = ["detect_language", "indexable_text"]


def indexable_text(chunk: Chunk, document: Document) -> str:
    """The text BM25 and the embedder index for ``chunk``: document title, citation, then the text.

    The title and the citation both name the law (``中华人民共和国专利法`` / ``专利法 第十一条``), so
    the law's name is counted about twice per article. That is a cheap title field boost: a query
    that names the law (``专利法第十一条``, ``35 U.S.C. 271``) prefers that law's units, while the
    article text still decides between the units of one law (the boost is the same for all of them).
    The citation also puts the article/section number into the index, so ``第十一条`` matches.
    """
    parts = [document.title.strip(), chunk.citation.strip(), chunk.text.strip()]
    return "\n".join(part for part in parts if part)
