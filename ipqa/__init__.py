"""ipqa: retrieval-augmented question answering for IP law, with verified citations."""

__version__ = "0.1.0"
