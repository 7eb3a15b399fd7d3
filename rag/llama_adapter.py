"""ipqa's retriever as a llama-index retriever, for code built on llama-index query engines.

llama-index types stay at this boundary: ipqa's :class:`~rag.protocols.Retriever` does the work and
each :class:`~ipqa.domain.Hit` becomes a ``NodeWithScore`` whose node id is the chunk id and whose
metadata carries the citation (so an answer built by llama-index can still cite exactly). Nothing
here reads or sets llama-index's global ``Settings``: the callback manager is explicit.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from indexes.protocols import SearchFilters
from ipqa.domain import Hit
from rag.protocols import Retriever

# Metadata the LLM should not see in the node text (ids), and what embeddings should ignore.
_HIDDEN_FROM_LLM = ["chunk_id", "document_id", "source", "expanded_from", "rank"]


def hit_to_node(hit: Hit) -> NodeWithScore:
    """One hit as a llama-index node: id = chunk id, text = the unit's text, citation in metadata."""
    chunk = hit.chunk
    metadata: dict[str, Any] = {
        "citation": chunk.citation,
        "chunk_id": chunk.id,
        "document_id": chunk.document_id,
        "unit": chunk.unit,
        "language": str(chunk.language),
        "source": hit.source,
        "rank": hit.rank,
    }
    if chunk.page is not None:
        metadata["page"] = chunk.page
    if hit.expanded_from is not None:
        metadata["expanded_from"] = hit.expanded_from
    node = TextNode(id_=chunk.id, text=chunk.text, metadata=metadata,
                    excluded_llm_metadata_keys=list(_HIDDEN_FROM_LLM),
                    excluded_embed_metadata_keys=list(metadata))
    return NodeWithScore(node=node, score=float(hit.score))


class IpqaLlamaRetriever(BaseRetriever):
    """``retriever.retrieve("…")`` -> ``list[NodeWithScore]``, ranked as ipqa ranks them."""

    def __init__(self, retriever: Retriever, *, k: int = 10, filters: SearchFilters | None = None,
                 callback_manager: CallbackManager | None = None) -> None:
        if k < 1:
            raise ValueError(f"IpqaLlamaRetriever: k must be >= 1, got {k}")
        self._ipqa_retriever = retriever
        self._k = k
        self._filters = filters
        # An explicit (empty) callback manager: never fall back to llama-index's global Settings.
        super().__init__(callback_manager=callback_manager or CallbackManager([]))

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._ipqa_retriever.retrieve(query_bundle.query_str, self._k, self._filters)
        return [hit_to_node(hit) for hit in hits]
