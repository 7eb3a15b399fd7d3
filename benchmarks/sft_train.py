"""LoRA training throughput of `ipqa sft train` on a small randomly initialised model of a real
architecture (Qwen2: RoPE, RMSNorm, SwiGLU, grouped-query attention), with a byte-level BPE tokenizer
trained on the data and a ChatML chat template. Prints the training report (tokens/s, peak GPU
memory, eval loss before/after) as JSON.

    python benchmarks/sft_train.py --data runs/sft-data --work /tmp/sft-bench [--hidden 512 --layers 4]
        [--steps 30] [--max-length 2048]

On a GPU it trains in bf16 (when supported); on a CPU in fp32. No weights are downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_base(directory: Path, texts: list[str], *, hidden: int, layers: int, vocab: int) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(directory)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 3,
                         num_hidden_layers=layers, num_attention_heads=max(1, hidden // 64),
                         num_key_value_heads=max(1, hidden // 256), max_position_embeddings=8192,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    Qwen2ForCausalLM(config).save_pretrained(directory)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="Directory written by `ipqa sft build`.")
    parser.add_argument("--work", type=Path, required=True, help="Scratch directory (base model, adapter).")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--texts", type=int, default=4000, help="Messages the tokenizer is trained on.")
    args = parser.parse_args()

    import torch

    from sft.records import read_examples
    from sft.train import TrainOptions, train

    texts = [m.content for e in read_examples(args.data / "train.jsonl") for m in e.messages][: args.texts]
    started = time.perf_counter()
    base = build_base(args.work / "base", texts, hidden=args.hidden, layers=args.layers, vocab=args.vocab)
    built = time.perf_counter() - started
    options = TrainOptions(max_steps=args.steps, batch_size=args.batch_size, gradient_accumulation=1,
                           learning_rate=1e-3, max_length=args.max_length, eval_steps=10**6, save_steps=10**6,
                           logging_steps=max(1, args.steps // 5))
    report = train(base, args.data, args.work / "adapter", options, progress=lambda m: print(m, file=sys.stderr))
    parameters = sum(p.numel() for p in __import__("transformers").AutoModelForCausalLM.from_pretrained(base)
                     .parameters())
    report.update({"architecture": "Qwen2ForCausalLM (random)", "hidden": args.hidden, "layers": args.layers,
                   "parameters": parameters, "base_build_seconds": round(built, 1),
                   "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                   "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
