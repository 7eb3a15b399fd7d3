"""Process-wide runtime knobs applied once at an edge (a CLI command, the API lifespan), never at
import time and never per request."""

from __future__ import annotations


def configure_torch(threads: int | None) -> None:
    """Give torch ``threads`` intra-op threads (``Settings.torch_threads``); None leaves torch's
    default (one per core).

    Why: on a small shared machine torch's threads spin-wait on each other. Encoding one query with
    MiniLM took 810 ms with 2 threads on the busy 2-core development box, 21 ms with 1. A serving
    process handles many small requests, where a single thread each is faster anyway.
    """
    if threads is None:
        return
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"torch threads must be a positive integer or None, got {threads!r}")
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def configure_faiss(threads: int | None) -> None:
    """Give FAISS ``threads`` OpenMP threads for searches (the same ``Settings.torch_threads``).

    Why: one query against the 81,547 vectors of the full index took 40-46 ms with FAISS's default
    OpenMP threads on the busy 2-core box (the threads spin-wait on each other) and 6.4 ms with one.
    """
    if threads is None:
        return
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"faiss threads must be a positive integer or None, got {threads!r}")
    import faiss

    faiss.omp_set_num_threads(threads)


# The cyclic collector's thresholds in a serving process. A search makes tens of thousands of
# short-lived container objects (hits, chunks, feature rows); at CPython's default (700, 10, 10) one
# search ran ~14 young collections, each walking whatever of the search was still alive and promoting
# it to be walked again by the older generations. At 20,000 most of a search's objects are freed by
# reference counting before any collection runs: the collector's time over 200 searches and 200
# extractive answers fell from ~300 to ~70 ms (benchmarks/search.py; docs/benchmarks.md).
SERVING_GC_THRESHOLDS = (20_000, 10, 10)


def settle_heap() -> None:
    """Collect garbage once, then exempt every object alive now from later cyclic collections
    (``gc.freeze``), and set the collector's :data:`SERVING_GC_THRESHOLDS`; call it when a serving
    process has loaded its index and models, and again after switching index versions.

    Why: a loaded index, the reranker's model and the libraries are ~500,000 long-lived objects,
    and each full collection walked all of them: pauses of up to 380 ms, during which every request
    of the worker stood still (measured in-process over 1,000 STARD questions; docs/benchmarks.md).
    Frozen objects are still freed by reference counting; only garbage *cycles* among them would
    outlive their use, which is why this unfreezes and collects first: a version dropped since the
    last call is collected here rather than kept forever.
    """
    import gc

    gc.unfreeze()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


# Packages whose warnings are ours to show; everything else is a library's.
_OWN_PACKAGES = ("ipqa", "ingest", "indexes", "rag", "api", "evals")
# Libraries that log chatter (loading messages, deprecations) at INFO/WARNING.
_CHATTY_LOGGERS = ("transformers", "sentence_transformers", "huggingface_hub", "jieba", "faiss", "bm25s",
                   "numba", "onnxruntime", "peft", "httpx", "unstructured", "pdfminer")


def quiet_libraries() -> None:
    """Silence libraries' progress bars, warnings and chatter for the rest of this process (and
    the processes it starts); ipqa's own progress bars (rich, typer) and its errors are untouched.
    Call it at an edge (the ``ipqa`` command without ``--verbose``), before the libraries load.

    Why: a one-shot command printed transformers' "Loading weights" bars and library deprecation
    warnings around its output. Environment switches are used where the library reads them when
    it is imported (transformers and huggingface_hub: ``HF_HUB_DISABLE_PROGRESS_BARS``; tqdm:
    ``TQDM_DISABLE``; bm25s: ``DISABLE_TQDM``), so this works whether or not they are loaded yet;
    ``setdefault`` leaves a value the user set.
    """
    import logging
    import os
    import warnings

    for name, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TQDM_DISABLE", "1"), ("DISABLE_TQDM", "1"),
                        ("TRANSFORMERS_VERBOSITY", "error"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
                        ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
    own = "|".join(_OWN_PACKAGES)
    # warnings raised from any module that is not ours (module= matches the warning's module name)
    warnings.filterwarnings("ignore", module=rf"^(?!(?:{own})(?:\.|$))")
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
