"""Tiny, randomly initialised models built on the fly, for tests that load models from disk.

No weights can be downloaded in tests, and real models are too slow for a unit test, so tests use a
one-layer BERT (hidden size 32) with a WordPiece vocabulary trained on a few sentences, saved as a
complete sentence-transformers model directory. Its vectors are deterministic (fixed seed) but carry
no meaning: tests check shapes, normalisation, prompts, caching and plumbing, not relevance.
"""

from __future__ import annotations

from pathlib import Path

TRAINING_SENTENCES = [
    "Whoever without authority makes, uses, offers to sell, or sells any patented invention infringes the patent.",
    "A patent shall be granted for any new and useful process, machine, manufacture, or composition of matter.",
    "Copyright protection subsists in original works of authorship fixed in any tangible medium of expression.",
    "The term of a patent shall be twenty years from the date on which the application was filed.",
    "A trademark registration may be renewed every ten years.",
    "发明专利权的期限为二十年，实用新型专利权和外观设计专利权的期限为十年。",
    "任何单位或者个人未经专利权人许可，都不得实施其专利。",
    "著作权人享有发表权、署名权、修改权和保护作品完整权。",
    "query: passage: claim section article paragraph court judgment",
]

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_sentence_transformer(directory: Path, *, prompts: dict[str, str] | None = None,
                                    hidden_size: int = 32, seed: int = 0) -> Path:
    """Write a tiny sentence-transformers model (BERT + mean pooling) to ``directory``; return it."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = Path(directory)
    backbone_dir = directory.parent / f"{directory.name}-backbone"
    backbone_dir.mkdir(parents=True, exist_ok=True)

    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train_from_iterator(TRAINING_SENTENCES,
                                  trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIAL_TOKENS))
    cls_id, sep_id = wordpiece.token_to_id("[CLS]"), wordpiece.token_to_id("[SEP]")
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    wordpiece.decoder = decoders.WordPiece()
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]",
                                  cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    tokenizer.save_pretrained(backbone_dir)

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=wordpiece.get_vocab_size(), hidden_size=hidden_size, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=hidden_size * 2, max_position_embeddings=128)
    BertModel(config).save_pretrained(backbone_dir)

    transformer = Transformer(str(backbone_dir), max_seq_length=128)
    pooling = Pooling(hidden_size, pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling], prompts=prompts, device="cpu")
    model.save(str(directory))
    return directory


def _wordpiece_tokenizer(sentences: list[str], vocab_size: int):
    """A BERT WordPiece tokenizer trained on ``sentences`` (lower-cased, Chinese split by character)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train_from_iterator(sentences, trainers.WordPieceTrainer(vocab_size=vocab_size,
                                                                       special_tokens=SPECIAL_TOKENS))
    cls_id, sep_id = wordpiece.token_to_id("[CLS]"), wordpiece.token_to_id("[SEP]")
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    wordpiece.decoder = decoders.WordPiece()
    return BertTokenizerFast(tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]",
                             cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def build_tiny_cross_encoder(directory: Path, *, num_labels: int = 1, sentences: list[str] | None = None,
                             seed: int = 0) -> Path:
    """Write a one-layer BERT sequence classifier to ``directory`` (a sentence-transformers
    ``CrossEncoder`` directory): 1 label = a relevance/support score, 3 labels = an NLI model
    (contradiction, entailment, neutral). Weights are random; ``initializer_range`` 0.5 instead of
    0.02, because with the default the outputs hardly depend on the input and a test could not tell
    that the input is read at all."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    directory = Path(directory)
    tokenizer = _wordpiece_tokenizer(sentences or TRAINING_SENTENCES, vocab_size=200)
    labels = {0: "contradiction", 1: "entailment", 2: "neutral"} if num_labels == 3 else {
        i: f"LABEL_{i}" for i in range(num_labels)}
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=num_labels,
                        id2label=labels, label2id={v: k for k, v in labels.items()}, initializer_range=0.5)
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_tiny_causal_lm(directory: Path, *, texts: list[str] | None = None, seed: int = 0,
                         vocab_size: int = 1500, n_positions: int = 1024) -> Path:
    """Write a one-layer GPT-2 with a byte-level BPE tokenizer (trained on ``texts``) and a chat
    template to ``directory``: loadable by ``rag.generators.local_hf``. Weights are random, so greedy
    decoding is deterministic but says nothing; train it further where a test needs a given answer."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    directory = Path(directory)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts or TRAINING_SENTENCES, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tokenizer.save_pretrained(directory)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=n_positions, n_layer=1, n_head=2, n_embd=64,
                        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory
