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


def settle_heap() -> None:
    """Collect garbage once, then exempt every object alive now from later cyclic collections
    (``gc.freeze``); call it when a serving process has loaded its index and models, and again
    after switching index versions.

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
