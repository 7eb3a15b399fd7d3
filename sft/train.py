"""``ipqa sft train``: LoRA supervised fine-tuning of a local causal LM on ``ipqa sft build`` data.

The prompt is rendered exactly as the ``local`` generator renders it (``render_chat``: the base
model's chat template, or plain text without one) and the loss is taken on the answer tokens only.
transformers' Trainer runs the loop: gradient checkpointing, bf16 on a GPU that supports it (fp32
on a CPU), checkpoints every ``save_steps`` under ``OUT/checkpoints`` (``--resume`` continues from
the last), evaluation loss on ``validation.jsonl`` before and after training, progress on stderr.
The adapter is written to ``OUT`` (what ``IPQA_LORA_PATH`` loads); ``--merge`` also writes the
merged model to ``OUT/merged`` for serving with vLLM.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from ipqa.errors import InputError
from sft.records import TRAIN_FILE, VALIDATION_FILE, Example, check_data_dir, read_examples

IGNORE = -100  # label of the prompt tokens: no loss on them
_CAUSAL_ARCHITECTURES = ("ForCausalLM", "LMHeadModel")


@dataclass(frozen=True)
class TrainOptions:
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 1
    gradient_accumulation: int = 8
    learning_rate: float = 2e-4
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = "all-linear"
    max_length: int = 4096
    eval_steps: int = 200
    save_steps: int = 200
    logging_steps: int = 10
    warmup_steps: int = 0
    seed: int = 0
    gradient_checkpointing: bool = True
    resume: bool = False
    merge: bool = False
    device: str = "auto"  # auto | cpu | cuda

    def __post_init__(self) -> None:
        for name in ("batch_size", "gradient_accumulation", "lora_r", "lora_alpha", "max_length", "eval_steps",
                     "save_steps", "logging_steps"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')}", f"must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise InputError("--learning-rate", f"must be > 0, got {self.learning_rate}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise InputError("--epochs", f"must be > 0 (or give --max-steps), got {self.epochs}")


def check_base(path: Path) -> Any:
    """The config of ``path``; an InputError naming ``--base`` when it is not a local causal LM."""
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    path = Path(path)
    if not path.is_dir():
        raise InputError(f"--base {path}", "is not a model directory")
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"--base {path}", f"has no readable model config ({exc})") from None
    architectures = list(getattr(config, "architectures", None) or [])
    causal_type = config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    causal_arch = not architectures or any(a.endswith(_CAUSAL_ARCHITECTURES) for a in architectures)
    if not (causal_type and causal_arch):
        what = ", ".join(architectures) or config.model_type
        raise InputError(f"--base {path}", f"is not a causal language model (its config says {what}); "
                                           "fine-tuning needs a decoder such as Qwen, Llama or GPT-2")
    return config


def encode(tokenizer: Any, example: Example, max_length: int) -> dict[str, list[int]] | None:
    """input ids and labels (the prompt masked with IGNORE); None when longer than ``max_length``."""
    from rag.generators.local_hf import render_chat

    system, user, answer = _messages(example)
    prompt = render_chat(tokenizer, system, user)
    templated = bool(getattr(tokenizer, "chat_template", None))
    answer_text = None
    if templated:
        full = tokenizer.apply_chat_template(
            [{"role": "system", "content": system}, {"role": "user", "content": user},
             {"role": "assistant", "content": answer}], tokenize=False)
        if full.startswith(prompt):  # the template's own end-of-turn tokens close the answer
            answer_text = full[len(prompt):]
    prompt_ids = tokenizer(prompt, add_special_tokens=not templated)["input_ids"]
    answer_ids = tokenizer(answer_text if answer_text is not None else answer, add_special_tokens=False)["input_ids"]
    # the answer must end in the token that stops generation: a template whose assistant turn does
    # not close with it (or no template at all) gets it appended
    eos = tokenizer.eos_token
    if tokenizer.eos_token_id is not None and (answer_text is None or (eos and eos not in answer_text)):
        answer_ids = answer_ids + [tokenizer.eos_token_id]
    ids = list(prompt_ids) + list(answer_ids)
    if len(ids) > max_length or not answer_ids:
        return None
    return {"input_ids": ids, "labels": [IGNORE] * len(prompt_ids) + list(answer_ids)}


def _messages(example: Example) -> tuple[str, str, str]:
    roles = {m.role: m.content for m in example.messages}
    if set(roles) != {"system", "user", "assistant"}:
        raise InputError(f"example {example.id}", f"needs system, user and assistant messages, has {sorted(roles)}")
    return roles["system"], roles["user"], roles["assistant"]


class _Collator:
    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, rows: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            ids[i, :n] = torch.tensor(row["input_ids"])
            labels[i, :n] = torch.tensor(row["labels"])
            mask[i, :n] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def _encoded(tokenizer: Any, path: Path, max_length: int) -> tuple[list[dict[str, list[int]]], int]:
    rows, skipped = [], 0
    for example in read_examples(path):
        row = encode(tokenizer, example, max_length)
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    return rows, skipped


def train(base: Path, data: Path, out: Path, options: TrainOptions = TrainOptions(),
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fine-tune; returns the report (also written to ``OUT/train_report.json``)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments

    check_base(base)
    stats = check_data_dir(data)
    say = progress or (lambda message: None)
    cuda = torch.cuda.is_available() and options.device in ("auto", "cuda")
    bf16 = bool(cuda and torch.cuda.is_bf16_supported())
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    train_rows, skipped = _encoded(tokenizer, Path(data) / TRAIN_FILE, options.max_length)
    validation_path = Path(data) / VALIDATION_FILE
    eval_rows, eval_skipped = (_encoded(tokenizer, validation_path, options.max_length)
                               if validation_path.is_file() else ([], 0))
    if not train_rows:
        raise InputError(f"--data {data}", f"no training example fits in --max-length {options.max_length} "
                                           f"tokens ({skipped} longer)")
    say(f"{len(train_rows)} training and {len(eval_rows)} validation examples "
        f"({skipped + eval_skipped} longer than {options.max_length} tokens left out)")
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True,
                                                 dtype=torch.bfloat16 if bf16 else torch.float32)
    if options.gradient_checkpointing:
        # activation_checkpointing_enable is the newer name (transformers 5) of the same switch
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    lora = LoraConfig(r=options.lora_r, lora_alpha=options.lora_alpha, lora_dropout=options.lora_dropout,
                      target_modules=options.target_modules if options.target_modules == "all-linear"
                      else [m.strip() for m in options.target_modules.split(",")],
                      task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    arguments = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=options.batch_size,
        per_device_eval_batch_size=options.batch_size,
        gradient_accumulation_steps=options.gradient_accumulation,
        learning_rate=options.learning_rate,
        num_train_epochs=options.epochs,
        max_steps=options.max_steps,
        warmup_steps=options.warmup_steps,
        logging_steps=options.logging_steps,
        eval_strategy="steps" if eval_rows else "no",
        eval_steps=options.eval_steps,
        save_strategy="steps",
        save_steps=options.save_steps,
        save_total_limit=2,
        bf16=bf16,
        use_cpu=not cuda,
        report_to=[],
        seed=options.seed,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )

    class _Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs:
                shown = {k: round(v, 4) if isinstance(v, float) else v for k, v in logs.items()}
                say(f"step {state.global_step}/{state.max_steps}: {shown}")

    trainer = Trainer(model=model, args=arguments, train_dataset=train_rows,
                      eval_dataset=eval_rows or None, data_collator=_Collator(pad_id), callbacks=[_Progress()])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # _Progress reports the same logs, once, on stderr
    eval_before = trainer.evaluate()["eval_loss"] if eval_rows else None
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    resume = options.resume and any((out / "checkpoints").glob("checkpoint-*"))
    started = time.perf_counter()
    outcome = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.perf_counter() - started
    eval_after = trainer.evaluate()["eval_loss"] if eval_rows else None
    model.save_pretrained(out)
    tokens = sum(len(r["input_ids"]) for r in train_rows)
    steps = int(outcome.global_step)
    # tokens the optimiser saw (examples per step x mean example length); approximate after a resume
    processed = tokens / len(train_rows) * steps * options.batch_size * options.gradient_accumulation
    report: dict[str, Any] = {
        "base": str(base), "data": str(data), "data_format": stats.get("format"), "adapter": str(out),
        "examples": len(train_rows), "validation_examples": len(eval_rows),
        "skipped_too_long": skipped + eval_skipped, "steps": steps, "resumed": resume,
        "train_loss": round(float(outcome.training_loss), 4),
        "eval_loss_before": round(float(eval_before), 4) if eval_before is not None else None,
        "eval_loss_after": round(float(eval_after), 4) if eval_after is not None else None,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(processed / seconds, 1) if seconds else None,
        "device": "cuda" if cuda else "cpu", "bf16": bf16,
        "peak_memory_bytes": int(torch.cuda.max_memory_allocated()) if cuda else None,
        "options": asdict(options),
    }
    if options.merge:
        merged = model.merge_and_unload()
        merged.save_pretrained(out / "merged")
        tokenizer.save_pretrained(out / "merged")
        report["merged"] = str(out / "merged")
    (out / "train_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
