"""The llama-index adapter: hits become NodeWithScore with the chunk id, text and citation; ipqa's
retriever gets the query, k and filters; llama-index's global Settings are left alone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from indexes.protocols import SearchFilters
from rag.llama_adapter import IpqaLlamaRetriever, hit_to_node
from rag_fixtures import FixedRetriever, hits


def test_hits_become_nodes_with_citations_in_order() -> None:
    found = hits("专利法 第十一条", "专利法 第七十五条")
    found[1] = replace(found[1], source="xref", expanded_from=found[0].chunk.id)
    ipqa = FixedRetriever(found)
    filters = SearchFilters(jurisdictions=frozenset({"CN"}))
    retriever = IpqaLlamaRetriever(ipqa, k=5, filters=filters)
    nodes = retriever.retrieve("未经许可实施专利")
    assert ipqa.calls == [("未经许可实施专利", 5, filters)]
    assert [n.node.node_id for n in nodes] == [h.chunk.id for h in found]
    assert [n.score for n in nodes] == [pytest.approx(h.score) for h in found]
    first = nodes[0].node
    assert first.get_content() == found[0].chunk.text
    assert first.metadata["citation"] == "专利法 第十一条"
    assert first.metadata["document_id"] == found[0].chunk.document_id
    assert nodes[1].node.metadata["expanded_from"] == found[0].chunk.id
    # the LLM sees the citation but not the internal ids
    llm_text = first.get_content(metadata_mode="llm")
    assert "专利法 第十一条" in llm_text and found[0].chunk.id not in llm_text


def test_global_settings_are_not_touched() -> None:
    from llama_index.core import Settings

    before = Settings._callback_manager
    retriever = IpqaLlamaRetriever(FixedRetriever(hits("专利法 第十一条")), k=1)
    retriever.retrieve("专利")
    assert Settings._callback_manager is before
    assert retriever.callback_manager is not before


def test_bad_k_is_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        IpqaLlamaRetriever(FixedRetriever([]), k=0)
    assert hit_to_node(hits("专利法 第十一条")[0]).node.metadata["unit"] == "article"
