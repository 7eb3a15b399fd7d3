"""Parsing sources (statutes, judgments, patents, other files) into citable chunks."""
