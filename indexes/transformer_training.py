"""Adapting a transformer sentence embedder (the bundled English MiniLM) to the corpus's legal English.

The MiniLM shipped here learned general web English; a U.S. Code section and the question a patent
attorney asks about it share few words and a vocabulary it rarely saw. It can learn that from pairs
the indexed English corpus holds in quantity, with no question set involved:

* a U.S. Code section's heading line -> its text (what the section is about -> what it says);
* each lettered subsection -> the rest of its section (inverse cloze: which section does this
  provision belong to); a section without lettered subsections: its text -> its heading;
* a patent's first claims -> its abstract (claim language -> plain description).

Measured before it was built (``benchmarks/minilm_adaptation.py``, docs/benchmarks.md): dense-only
retrieval over the 378 indexed U.S. Code sections, R@10 / MRR 0.678 / 0.513 -> 0.735 / 0.551 on the 728
English training questions after one epoch (0.755 / 0.548 after two, for twice the time).

Because no question is a training pair, the model's dense scores on the reranker's training questions
are not memory, so it needs no held-out models (unlike the Chinese model of
:mod:`indexes.embedder_training`).

The loss is sentence-transformers' multiple-negatives ranking loss (in-batch negatives, cosine x 20).
Training is seeded (batch order and dropout), shows progress, checkpoints every few steps
(``<out>.partial``) and resumes from there; the finished model is moved into place whole, so a reader
never sees half a model. The output is a normal sentence-transformers directory plus
``ipqa_embedder.json`` (family ``adapted-transformer``, languages, base model, options, pair counts and
a digest of the weights, which makes a retrained model a different embedder to every index).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from indexes.embedder_training import Pair, TrainReport, shuffled_batches
from indexes.static_embedder import METADATA_FILE, TrainedModelInfo
from ipqa.errors import ConfigError, InputError

FAMILY = "adapted-transformer"
FORMAT_VERSION = 1
_SUBSECTION = re.compile(r"\n(?=\([a-z]\) )")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class AdaptOptions:
    language: str = "en"
    # one epoch: on the 728 English training questions 0.735 / 0.551 (R@10 / MRR) against two epochs'
    # 0.755 / 0.548, for half the time (~11 min on 2 cores)
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 2e-5
    seed: int = 0
    max_query_chars: int = 600
    max_positive_chars: int = 1500
    checkpoint_every: int = 20  # steps (~3 minutes on 2 cores)

    def __post_init__(self) -> None:
        if self.language != "en":
            raise ConfigError(f"train embedder: adapting a transformer is for English, got language "
                              f"{self.language!r} (Chinese trains a static model)")
        for name in ("epochs", "checkpoint_every", "max_query_chars", "max_positive_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train embedder: {name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ConfigError(f"train embedder: batch_size must be >= 2 (in-batch negatives), got {self.batch_size}")
        if not self.learning_rate > 0:
            raise ConfigError(f"train embedder: learning_rate must be > 0, got {self.learning_rate}")


def english_pairs(rows: Iterable[tuple[str, str, str, str]], *, max_query_chars: int = 600,
                  max_positive_chars: int = 1500) -> list[Pair]:
    """(query, positive) pairs from English chunks. ``rows``: (document id, citation, unit, text)."""
    pairs: list[Pair] = []
    abstracts: dict[str, str] = {}
    claims: dict[str, list[str]] = {}
    seen: set[str] = set()
    for document_id, citation, unit, text in rows:
        if unit == "abstract":
            abstracts.setdefault(document_id, text)
        elif unit == "claim":
            claims.setdefault(document_id, []).append(text)
        elif unit == "section" and "U.S.C." in citation and text not in seen:
            seen.add(text)  # the same section in several versions: one set of pairs
            heading, _, body = text.partition("\n")
            if not body.strip():
                continue
            pairs.append(Pair(heading[:max_query_chars], body[:max_positive_chars], "heading"))
            for part in (p for p in _SUBSECTION.split(body) if len(p) > 80):
                rest = heading + "\n" + body.replace(part, " ")
                pairs.append(Pair(part[:max_query_chars], rest[:max_positive_chars], "subsection"))
    for document_id, abstract in abstracts.items():
        for claim in claims.get(document_id, [])[:3]:
            pairs.append(Pair(claim[:max_query_chars], abstract[:max_positive_chars], "claim"))
    return pairs


def english_pairs_from_store(store, options: AdaptOptions) -> list[Pair]:
    """:func:`english_pairs` of an index's English chunks."""
    rows = ((chunk.document_id, chunk.citation, chunk.unit, chunk.text)
            for _, chunk, _document in store.iter_chunks_with_documents() if str(chunk.language) == "en")
    return english_pairs(rows, max_query_chars=options.max_query_chars, max_positive_chars=options.max_positive_chars)


def base_identity(base_dir: Path) -> str:
    """A digest of the base model's configuration, vocabulary and weights (~0.3 s for MiniLM's 90 MB):
    a finished or interrupted run from another base, even another fine-tune of the same architecture,
    is not reused."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(base_dir).rglob("*") if p.is_file() and p.name != METADATA_FILE):
        digest.update(f"{path.relative_to(base_dir)}:{path.stat().st_size}\x1f".encode())
        if path.suffix == ".json" or path.name == "vocab.txt" or path.name in _WEIGHT_FILES:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def is_adapted_model_dir(path: Path) -> bool:
    """Whether ``path`` holds a finished model of this family (metadata says so)."""
    try:
        TrainedModelInfo.read(Path(path), family=FAMILY, format_version=FORMAT_VERSION)
    except ConfigError:
        return False
    return True


def read_adapted_model(path: Path, *, expect_language: str) -> TrainedModelInfo:
    """The metadata of an adapted model directory serving ``expect_language``; otherwise a
    ``ConfigError`` naming the directory and what is wrong (no metadata, another family or format,
    another language)."""
    info = TrainedModelInfo.read(Path(path), family=FAMILY, format_version=FORMAT_VERSION)
    if expect_language not in info.languages:
        raise ConfigError(f"embedder model directory {path} serves {sorted(info.languages)}, not {expect_language!r}")
    return info


def _fingerprint(base_dir: Path, options: AdaptOptions, pairs: Sequence[Pair]) -> dict[str, Any]:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(pair.query.encode() + b"\x1f" + pair.positive.encode() + b"\x1e")
    counts = dict(Counter(pair.kind for pair in pairs))
    learned = {k: v for k, v in asdict(options).items() if k != "checkpoint_every"}  # what shapes the model
    return {"options": learned, "base": base_identity(base_dir), "pairs": counts,
            "pairs_digest": digest.hexdigest()[:16]}


def _finished(out: Path, fingerprint: dict[str, Any]) -> TrainedModelInfo | None:
    try:
        info = TrainedModelInfo.read(out, family=FAMILY, format_version=FORMAT_VERSION)
    except ConfigError:
        return None
    same = all(info.extra.get(key) == value for key, value in fingerprint.items())
    return info if same else None


def _weights_digest(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name in _WEIGHT_FILES):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def adapt_sentence_transformer(base_dir: Path, pairs: Sequence[Pair], out: Path, options: AdaptOptions, *,
                               progress: Callable[[str], None] | None = None,
                               extra_info: dict | None = None) -> TrainReport:
    """Fine-tune the sentence-transformers model in ``base_dir`` on ``pairs``; write it to ``out``.

    Reuses a finished model in ``out`` trained from the same base with the same options on the same
    pairs; resumes an interrupted run of the same from ``<out>.partial``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    base_dir, out = Path(base_dir), Path(out)
    if not (base_dir / "modules.json").is_file():
        raise InputError(str(base_dir), "not a sentence-transformers model directory (no modules.json)")
    if not pairs:
        raise InputError(str(out), "no training pairs: the index holds no English U.S. Code sections or patents")
    say = progress or (lambda message: None)
    _refuse_foreign_output(out)
    _recover_interrupted_swap(out, say)
    started = time.perf_counter()
    fingerprint = _fingerprint(base_dir, options, pairs)
    counts = fingerprint["pairs"]
    finished = _finished(out, fingerprint)
    if finished:
        say(f"reusing the model in {out} (adapted from this base with these options on these pairs)")
        return TrainReport(counts, 0, options.epochs, time.perf_counter() - started,
                           list(finished.extra.get("epoch_losses", [])))

    partial = out.parent / f"{out.name}.partial"
    saved = _read_checkpoint(partial, fingerprint, say)
    if saved is None:
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        _write_atomically(partial / "fingerprint.json", json.dumps(fingerprint))

    torch.manual_seed(options.seed)
    model = SentenceTransformer(str(partial / _CHECKPOINT / "model" if saved else base_dir), device="cpu",
                                local_files_only=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.learning_rate)
    loss_of = losses.MultipleNegativesRankingLoss(model)  # in-batch negatives, cosine x 20
    epoch, step, losses_so_far, running = 0, 0, [], 0.0
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        epoch, step, losses_so_far, running = saved["epoch"], saved["step"], saved["losses"], saved["running"]
        say(f"resuming at epoch {epoch + 1} step {step}")

    def checkpoint(epoch: int, step: int, running: float) -> None:
        # model and state written together into a fresh directory, then swapped in: an interruption
        # leaves the previous checkpoint or this one, never weights of one step with the state of another
        fresh = partial / f"{_CHECKPOINT}.new"
        if fresh.exists():
            shutil.rmtree(fresh)
        model.save(str(fresh / "model"))
        torch.save({"optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(), "epoch": epoch,
                    "step": step, "losses": losses_so_far, "running": running}, fresh / "state.pt")
        current = partial / _CHECKPOINT
        if current.exists():
            current.rename(partial / f"{_CHECKPOINT}.old")
        fresh.rename(current)
        shutil.rmtree(partial / f"{_CHECKPOINT}.old", ignore_errors=True)

    resumed_from = epoch
    model.train()
    while epoch < options.epochs:
        batches = shuffled_batches(pairs, options.batch_size, seed=options.seed, epoch=epoch)
        for index in range(step, len(batches)):
            batch = batches[index]
            features = [model.preprocess([p.query for p in batch]), model.preprocess([p.positive for p in batch])]
            loss = loss_of(features, torch.arange(len(batch)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            running += float(loss.item())
            done = index + 1
            if done % options.checkpoint_every == 0 and done < len(batches):
                checkpoint(epoch, done, running)
            if done % 5 == 0 or done == len(batches):
                say(f"epoch {epoch + 1}/{options.epochs} step {done}/{len(batches)} loss {running / done:.4f} "
                    f"({time.perf_counter() - started:.0f} s)")
        losses_so_far.append(running / max(1, len(batches)))
        epoch, step, running = epoch + 1, 0, 0.0
        if epoch < options.epochs:
            checkpoint(epoch, 0, 0.0)
    model.eval()
    _save_in_place(model, out, options, fingerprint, losses_so_far, extra_info or {})
    shutil.rmtree(partial, ignore_errors=True)
    return TrainReport(counts, options.epochs - resumed_from, resumed_from, time.perf_counter() - started,
                       losses_so_far)


_CHECKPOINT = "checkpoint"


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _read_checkpoint(partial: Path, fingerprint: dict[str, Any], say: Callable[[str], None]) -> dict | None:
    """The state of an interrupted run of the same training in ``partial``, or None to start afresh
    (none, another run's, or unreadable: said, then discarded by the caller)."""
    import torch

    try:
        if json.loads((partial / "fingerprint.json").read_text(encoding="utf-8")) != fingerprint:
            return None
    except (OSError, ValueError):
        return None
    current = partial / _CHECKPOINT
    if not current.is_dir() and (partial / f"{_CHECKPOINT}.old").is_dir():  # interrupted between two renames
        (partial / f"{_CHECKPOINT}.old").rename(current)
    if not (current / "state.pt").is_file():
        return None
    try:
        return torch.load(current / "state.pt", weights_only=True)
    except Exception as exc:  # a torn file: what torch raises depends on where it was cut
        say(f"discarding the unreadable checkpoint in {partial} ({type(exc).__name__}: {exc}); starting afresh")
        return None


def _refuse_foreign_output(out: Path) -> None:
    """``out`` is replaced whole when the model is written: refuse a directory that is not a model this
    command wrote (an ``--out`` pointing at the Chinese model or at any folder of the user's)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not is_adapted_model_dir(out):
        raise InputError(str(out), "exists and is not an English model written by `ipqa train embedder "
                                   "--language en`; it would be replaced: choose another --out or remove it")


def _recover_interrupted_swap(out: Path, say: Callable[[str], None]) -> None:
    """Put back the model a run interrupted between moving it aside and moving the new one in."""
    old = out.parent / f"{out.name}.old"
    if not out.exists() and is_adapted_model_dir(old):
        old.rename(out)
        say(f"restored {out} from {old} (an earlier run was interrupted while replacing it)")


def _save_in_place(model: Any, out: Path, options: AdaptOptions, fingerprint: dict[str, Any],
                   losses: list[float], extra_info: dict) -> None:
    """Write the model beside ``out``, then swap it in: a reader sees the old model or the new one."""
    fresh = out.parent / f"{out.name}.new"
    if fresh.exists():
        shutil.rmtree(fresh)
    model.save(str(fresh))
    info = TrainedModelInfo(FAMILY, FORMAT_VERSION, frozenset({options.language}),
                            {**fingerprint, "weights": _weights_digest(fresh), "epoch_losses": losses, **extra_info})
    info.write(fresh)
    old = out.parent / f"{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    fresh.rename(out)
    shutil.rmtree(old, ignore_errors=True)
