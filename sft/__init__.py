"""Fine-tuning ipqa's own IP model: retrieval-augmented training data in five directions
(``ipqa sft build``), LoRA supervised fine-tuning (``ipqa sft train``).

Layering: ``ipqa < ingest < indexes < rag < (api, evals, sft)``. This package reads the index and
rag's prompts, generators and verifier; nothing below imports it.
"""
