"""Data files shipped with rag (the question-type seed set)."""
