"""Writing and opening indexes: the SQLite chunk store, BM25 (bm25s) and FAISS, versioned on disk."""
