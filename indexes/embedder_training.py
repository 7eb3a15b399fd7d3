"""Training a static embedder (:mod:`indexes.static_embedder`) from the corpus itself.

No Chinese model weights can be downloaded here, so the Chinese retriever learns from what the index
holds, in quantity, plus the supervised questions given:

* **inverse cloze** (ICT): one sentence of an article is the query, the article is the positive — the
  corpus's own paraphrase-free signal of "which article does this statement belong to";
* **citing context → cited article**: an article or interpretation that writes ``依照专利法第十一条…``
  is a query for the article it cites (``Chunk.references``), i.e. how other provisions restate it;
* **law title + chapter → article**: teaches which words belong to which field of law;
* **question → gold article** from a STARD-format file (lay wording → statute wording), optionally
  leaving out some questions (cross-validation folds).

A model trained on questions has seen them: its scores on those questions are memory. So beside the
model, ``held_out_folds`` cuts the questions into folds and one *held-out model* is trained per fold
without that fold's questions (``<model>/held-out/fold-<k>``, the held-out question ids in its
``ipqa_embedder.json``). The reranker then learns from the dense scores a model gets on questions it
never saw (cross-fitting), the scores it will meet when serving new questions.

The loss is in-batch multiple-negatives ranking (softmax over the batch's positives, cosine × scale):
the standard recipe for static retrieval models. Training is seeded (same data and seed, same model),
shows progress, and resumes from the checkpoint of the last finished epoch.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from indexes.static_embedder import FAMILY, FORMAT_VERSION, TrainedModelInfo
from ipqa.errors import ConfigError, InputError
from ipqa.jsonl import read_jsonl

_SENTENCE_END = re.compile(r"(?<=[。；！？])")
_ARTICLE = re.compile(r"^(.+?) (第[零〇一二三四五六七八九十百千]+条(?:之[一二三四五六七八九十]+)?)")


@dataclass(frozen=True)
class Pair:
    query: str
    positive: str
    kind: str  # ict | citation | title | question


@dataclass(frozen=True)
class TrainOptions:
    language: str = "zh"
    dimension: int = 256
    vocab_size: int = 30_000
    epochs: int = 2
    batch_size: int = 1024
    learning_rate: float = 0.05
    scale: float = 20.0
    seed: int = 0
    # supervised questions are few: each is seen this many times per epoch (12 against 4: STARD
    # cross-validated with held-out models R@10 0.651 -> 0.664, R@100 0.860 -> 0.865; 24: 0.660 / 0.863)
    question_repeats: int = 12
    max_ict_per_article: int = 2
    max_tokens: int = 256

    def __post_init__(self) -> None:
        if self.language != "zh":
            raise ConfigError(f"train embedder: language {self.language!r} is not supported (static training is "
                              "for Chinese; English adapts the bundled MiniLM: indexes.transformer_training)")
        for name in ("dimension", "vocab_size", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train embedder: {name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            raise ConfigError("train embedder: batch_size must be >= 2 (in-batch negatives)")


@dataclass
class TrainReport:
    pairs: dict[str, int]
    epochs_run: int
    resumed_from: int
    seconds: float
    losses: list[float] = field(default_factory=list)


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if len(s.strip()) >= 8]


def article_citation(citation: str) -> str | None:
    """``专利法 第六十条 第一款`` -> ``专利法 第六十条``: the article a paragraph/item reference names."""
    match = _ARTICLE.match(citation.strip())
    return f"{match.group(1)} {match.group(2)}" if match else None


def corpus_pairs(rows: Iterable[tuple[str, str, str, Sequence[str], Sequence[str]]], *, language: str,
                 seed: int = 0, max_ict_per_article: int = 2) -> list[Pair]:
    """Self-supervised pairs from the corpus. ``rows``: (citation, text, index_text, hierarchy,
    references) of each chunk in ``language``."""
    rng = random.Random(seed)
    by_citation: dict[str, str] = {}
    items = list(rows)
    for citation, _, index_text, _, _ in items:
        by_citation.setdefault(citation, index_text)
    pairs: list[Pair] = []
    seen_texts: set[str] = set()
    for citation, text, index_text, hierarchy, references in items:
        if text in seen_texts:  # the same article in several versions: one set of pairs
            continue
        seen_texts.add(text)
        sentences = _sentences(text)
        if len(sentences) >= 2:
            for sentence in rng.sample(sentences, min(max_ict_per_article, len(sentences))):
                pairs.append(Pair(sentence, index_text, "ict"))
        law = citation.split(" ", 1)[0]
        chapter = next((h for h in hierarchy[:-1] if h.startswith("第") and "章" in h[:8]), "")
        if chapter:
            pairs.append(Pair(f"{law} {chapter.split(' ', 1)[-1]}", index_text, "title"))
        for reference in references:
            target = article_citation(reference)
            cited = by_citation.get(target) if target else None
            if cited and cited != index_text:
                pairs.append(Pair(text, cited, "citation"))
    return pairs


def _gold_texts(row: dict, lookup) -> dict[str, str]:
    """A question's gold articles by name → text: its ``gold_text`` (STARD), else its ``gold`` names
    resolved in ``lookup`` (the index), each as the newest version's text."""
    gold_text = row.get("gold_text")
    if isinstance(gold_text, dict) and any(gold_text.values()):
        return {str(name): str(text) for name, text in gold_text.items() if text}
    if lookup is None or not isinstance(row.get("gold"), list):
        return {}
    from ingest.citations import resolve

    keys = {}
    for name in row["gold"]:
        resolutions = resolve(str(name), lookup)
        if resolutions:
            keys[resolutions[0].ref.unit_key] = str(name)
    newest = lookup.newest_versions(keys)
    return {keys[key]: version.text for key, version in newest.items()}


def _question_rows(path: Path, lookup, language: str | None) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(id, question, gold texts) of each usable question of ``path`` (in ``language`` when given)."""
    from indexes.text import detect_language

    if not path.is_file():
        raise InputError(str(path), "training questions file not found")
    for _, _, row in read_jsonl(path, "training questions"):
        question = str(row.get("question") or "").strip()
        if not question or (language is not None and str(detect_language(question)) != language):
            continue
        texts = _gold_texts(row, lookup)
        if texts:
            yield str(row.get("id")), question, texts


def _pairs(question: str, texts: dict[str, str]) -> list[Pair]:
    return [Pair(question, f"{name}\n{text}", "question") for name, text in texts.items()]


def question_pairs(path: Path, *, exclude_ids: frozenset[str] = frozenset(), lookup=None,
                   language: str | None = None) -> list[Pair]:
    """Question → gold article text from a JSONL of questions: STARD's ``gold_text``, or (``lookup``
    given) the ``gold`` names resolved in the index; ``language``: only questions in it."""
    return [pair for question_id, question, texts in _question_rows(path, lookup, language)
            if question_id not in exclude_ids for pair in _pairs(question, texts)]


def question_key(path: Path | str, question_id: str) -> str:
    """``stard-train/17``: a question named by its file's stem and its id (ids repeat across files)."""
    return f"{Path(path).stem}/{question_id}"


def keyed_question_pairs(paths: Sequence[Path], *, lookup=None, language: str | None = None
                         ) -> dict[str, list[Pair]]:
    """The pairs of each usable question of several files, by :func:`question_key`, in file order:
    read and resolved once, then filtered for each held-out fold."""
    stems = [Path(p).stem for p in paths]
    if len(set(stems)) != len(stems):
        raise InputError("--questions", f"two question files share a file name: {stems}")
    return {question_key(path, question_id): _pairs(question, texts)
            for path in paths for question_id, question, texts in _question_rows(Path(path), lookup, language)}


def held_out_folds(ids: Sequence[str], folds: int, *, seed: int = 0) -> list[frozenset[str]]:
    """``ids`` cut into ``folds`` disjoint sets by a hash of seed and id: the same id lands in the same
    fold whatever else the file holds, so adding questions moves no other question's fold."""
    if folds < 2:
        raise ConfigError(f"train embedder: held-out folds must be >= 2 (or 0 for none), got {folds}")
    out: list[set[str]] = [set() for _ in range(folds)]
    for question_id in ids:
        digest = hashlib.sha256(f"{seed}:{question_id}".encode()).digest()
        out[int.from_bytes(digest[:8], "big") % folds].add(question_id)
    return [frozenset(fold) for fold in out]


HELD_OUT_DIR = "held-out"


def held_out_model_dir(model_dir: Path, fold: int) -> Path:
    return Path(model_dir) / HELD_OUT_DIR / f"fold-{fold}"


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> object:
    """A BPE tokenizer learned from ``texts``: splits at whitespace, punctuation and digits, then
    learns the frequent character sequences of legal Chinese (专利权人, 人民法院, 诉讼时效)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                       pre_tokenizers.Digits(individual_digits=True)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=3, special_tokens=["[UNK]", "[PAD]"],
                                  show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def shuffled_batches(pairs: Sequence[Pair], batch_size: int, *, seed: int, epoch: int) -> list[list[Pair]]:
    """The batches of one epoch of in-batch-negatives training: the pairs in a seeded order (the same
    for the same seed and epoch, so a resumed run sees the batches an uninterrupted one would), cut
    into ``batch_size`` batches; a last batch of one (no negative) is dropped."""
    return list(_batches(pairs, batch_size, random.Random(seed * 1000 + epoch)))


def _batches(pairs: Sequence[Pair], batch_size: int, rng: random.Random) -> Iterator[list[Pair]]:
    order = list(range(len(pairs)))
    rng.shuffle(order)
    for start in range(0, len(order) - 1, batch_size):
        batch = [pairs[i] for i in order[start:start + batch_size]]
        if len(batch) >= 2:
            yield batch


def train_static_embedder(pairs: Sequence[Pair], vocabulary_texts: Iterable[str], out: Path, options: TrainOptions,
                          *, progress: Callable[[str], None] | None = None,
                          extra_info: dict | None = None) -> TrainReport:
    """Train, then write a sentence-transformers directory with ``ipqa_embedder.json`` to ``out``.

    Reuses a finished model in ``out`` trained with the same options on the same pairs, and resumes
    from ``out/checkpoint`` when an interrupted run had the same options and pair count."""
    import torch
    from tokenizers import Tokenizer

    if not pairs:
        raise InputError(str(out), "no training pairs: the index holds no chunks in this language")
    say = progress or (lambda message: None)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.kind] = counts.get(pair.kind, 0) + 1
    finished = _finished_model(out, options, counts)
    if finished:  # the same options over the same pairs: nothing to learn again
        say(f"reusing the model in {out} (trained with these options on these pairs)")
        return TrainReport(counts, 0, options.epochs, time.perf_counter() - started,
                           list(finished.extra.get("epoch_losses", [])))
    checkpoint_dir = out / "checkpoint"
    fingerprint = {"options": asdict(options), "pairs": len(pairs)}
    tokenizer_path = checkpoint_dir / "tokenizer.json"
    state_path = checkpoint_dir / "state.pt"
    resumed_from = 0
    checkpoint_dir.mkdir(exist_ok=True)
    meta_path = checkpoint_dir / "fingerprint.json"
    same_run = meta_path.is_file() and json.loads(meta_path.read_text()) == fingerprint
    if same_run and tokenizer_path.is_file():
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
    else:
        say("learning the tokenizer")
        tokenizer = train_tokenizer(vocabulary_texts, options.vocab_size)
        tokenizer.save(str(tokenizer_path))
        meta_path.write_text(json.dumps(fingerprint))
        if state_path.exists():
            state_path.unlink()
    tokenizer.no_padding()
    tokenizer.no_truncation()
    torch.manual_seed(options.seed)
    vocab = tokenizer.get_vocab_size()
    bag = torch.nn.EmbeddingBag(vocab, options.dimension, mode="mean")
    torch.nn.init.normal_(bag.weight, std=0.1)
    optimizer = torch.optim.Adam(bag.parameters(), lr=options.learning_rate)
    if same_run and state_path.is_file():
        state = torch.load(state_path, weights_only=True)
        bag.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        resumed_from = int(state["epoch"])
        say(f"resuming after epoch {resumed_from}")

    def encode(texts: list[str]) -> "torch.Tensor":
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        ids: list[int] = []
        offsets: list[int] = []
        for encoding in encodings:
            offsets.append(len(ids))
            token_ids = encoding.ids[:options.max_tokens] or [0]
            ids.extend(token_ids)
        vectors = bag(torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long))
        return torch.nn.functional.normalize(vectors, dim=-1)

    losses: list[float] = []
    for epoch in range(resumed_from, options.epochs):
        batches = shuffled_batches(pairs, options.batch_size, seed=options.seed, epoch=epoch)
        total = 0.0
        for step, batch in enumerate(batches, start=1):
            queries = encode([p.query for p in batch])
            positives = encode([p.positive for p in batch])
            scores = queries @ positives.T * options.scale
            labels = torch.arange(len(batch))
            loss = (torch.nn.functional.cross_entropy(scores, labels)
                    + torch.nn.functional.cross_entropy(scores.T, labels)) / 2
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            if step % 20 == 0 or step == len(batches):
                say(f"epoch {epoch + 1}/{options.epochs} step {step}/{len(batches)} loss {total / step:.4f}")
        losses.append(total / max(1, len(batches)))
        torch.save({"model": bag.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1}, state_path)
    _save(bag.weight.detach(), tokenizer, out, options, counts, losses, extra_info or {})
    return TrainReport(counts, options.epochs - resumed_from, resumed_from, time.perf_counter() - started, losses)


def _finished_model(out: Path, options: TrainOptions, counts: dict[str, int]) -> TrainedModelInfo | None:
    try:
        info = TrainedModelInfo.read(out)
    except ConfigError:
        return None
    return info if info.extra.get("options") == asdict(options) and info.extra.get("pairs") == counts else None


def _save(weights, tokenizer, out: Path, options: TrainOptions, counts: dict[str, int], losses: list[float],
          extra_info: dict) -> None:
    """A sentence-transformers directory (``SentenceTransformer(out)`` loads it) + ipqa's metadata."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import StaticEmbedding
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]")
    module = StaticEmbedding(fast, embedding_weights=weights.numpy())
    SentenceTransformer(modules=[module], device="cpu").save(str(out))
    info = TrainedModelInfo(FAMILY, FORMAT_VERSION, frozenset({options.language}),
                           {"options": asdict(options), "pairs": counts, "epoch_losses": losses, **extra_info})
    info.write(out)


def pairs_from_store(store, language: str, *, seed: int = 0, max_ict_per_article: int = 2
                     ) -> tuple[list[Pair], list[str]]:
    """Corpus pairs and the texts the tokenizer learns from, read from an index's chunk store."""
    rows = []
    texts = []
    for _, chunk, _document in store.iter_chunks_with_documents():
        if str(chunk.language) != language:
            continue
        rows.append((chunk.citation, chunk.text, f"{_document.title}\n{chunk.citation}\n{chunk.text}",
                     tuple(chunk.hierarchy), tuple(chunk.references)))
        texts.append(chunk.text)
    return corpus_pairs(rows, language=language, seed=seed, max_ict_per_article=max_ict_per_article), texts
