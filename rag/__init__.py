"""Answering: hybrid retrieval, reranking, generation with citations, citation verification."""
