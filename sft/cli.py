"""`ipqa sft build | train`: make retrieval-augmented training data from the index, fine-tune a LoRA
adapter on it. Heavy imports stay inside the commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer


def register(app: typer.Typer) -> None:
    """Add `ipqa sft …` to the app."""
    sft_app = typer.Typer(help="Fine-tune ipqa's IP model: build training data, train a LoRA adapter.",
                          no_args_is_help=True)

    @sft_app.command("build")
    def build(
        out: Path = typer.Option(..., "--out", help="Directory for train.jsonl, validation.jsonl, stats.json."),
        directions: str = typer.Option("doctrine,conduct,case,drafting,exam", "--directions",
                                       help="Comma-separated: doctrine, conduct, case, drafting, exam."),
        teacher: bool = typer.Option(False, "--teacher",
                                     help="Answers written by the OpenAI-compatible endpoint (IPQA_OPENAI_*)."),
        sources: int = typer.Option(5, "--sources", min=1, max=20, help="Numbered sources per prompt."),
        seed: int = typer.Option(0, "--seed", help="Seed of source order, exam fold and split."),
        validation: float = typer.Option(0.05, "--validation", help="Share of each direction for validation."),
        exam_holdout: float = typer.Option(0.25, "--exam-holdout", help="Share of the exam held out."),
        per_direction: int = typer.Option(4000, "--per-direction", min=1, help="Most candidates per direction."),
        per_document: int = typer.Option(60, "--per-document", min=1, help="Most candidates per statute."),
        eval_sets: Optional[List[Path]] = typer.Option(None, "--eval-set",
                                                       help="More evaluation sets the leakage check refuses."),
        threshold: float = typer.Option(0.5, "--leakage-threshold", help="n-gram containment that counts as leakage."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the figures."),
    ) -> None:
        """Training data in five directions, every example retrieval-augmented and citation-verified."""
        from indexes.snapshot import open_snapshot
        from ipqa.settings import Settings
        from rag.compose import build_judge
        from rag.verify import CitationVerifier, law_titles_in_store
        from sft.assemble import Assembler
        from sft.build import build_examples, evaluation_guard, write_dataset
        from sft.context import BuildContext, exam_path
        from sft.directions import parse_directions
        from sft.directions.exam import load_exam, split_exam
        from sft.leakage import NGRAM

        names = parse_directions(directions)
        settings = Settings()
        writer = None
        if teacher:
            from sft.teacher import configured_teacher

            writer = configured_teacher(settings)
        heldout = []
        if "exam" in names:
            _, heldout = split_exam(load_exam(exam_path(settings.shared_data)), holdout=exam_holdout, seed=seed)
        guard, eval_sizes = evaluation_guard(settings.shared_data, eval_sets or [], heldout, threshold=threshold)
        snapshot = open_snapshot(settings.index_root, embedder=None)
        try:
            store = snapshot.store
            context = BuildContext(store=store, shared_data=settings.shared_data, seed=seed,
                                   per_direction=per_direction, per_document=per_document,
                                   exam_holdout=exam_holdout, support_threshold=settings.support_threshold)
            verifier = CitationVerifier(store, build_judge(settings), threshold=settings.support_threshold,
                                        known_laws=law_titles_in_store(store))
            assembler = Assembler(lambda q, k, f: snapshot.search_bm25(q, k, f), verifier, sources=sources,
                                  seed=seed)

            def progress(direction: str, n: int) -> None:
                if n % 500 == 0:
                    typer.echo(f"{direction}: {n} candidates", err=True)

            result = build_examples(context, names, assembler, guard, writer=writer, progress=progress)
            stats = write_dataset(out, result, names, validation=validation, seed=seed, heldout_exam=heldout,
                                  extra_stats={"index_version": snapshot.version, "sources": sources,
                                               "teacher": teacher, "support_threshold": settings.support_threshold,
                                               "judge": verifier.judge.name,
                                               "leakage": {"ngram": NGRAM, "threshold": threshold,
                                                           "evaluation_questions": eval_sizes}})
        finally:
            snapshot.close()
        if as_json:
            typer.echo(json.dumps({key: stats[key] for key in ("examples", "by_direction", "dropped",
                                                                "citations_checked", "train", "validation")},
                                  ensure_ascii=False))
            return
        typer.echo(f"{stats['examples']} examples {stats['by_direction']}  train={stats['train']}  "
                   f"validation={stats['validation']}  dropped={stats['dropped']}")
        typer.echo(f"data: {out}")

    @sft_app.command("train")
    def train_command(
        base: Path = typer.Option(..., "--base", help="Local directory of the base causal LM (e.g. Qwen3-4B)."),
        data: Path = typer.Option(..., "--data", help="Directory written by `ipqa sft build`."),
        out: Path = typer.Option(..., "--out", help="Where the adapter (IPQA_LORA_PATH) and checkpoints go."),
        epochs: float = typer.Option(1.0, "--epochs", help="Passes over the training data."),
        max_steps: int = typer.Option(-1, "--max-steps", help="Optimiser steps; overrides --epochs when > 0."),
        batch_size: int = typer.Option(1, "--batch-size", help="Examples per device step."),
        gradient_accumulation: int = typer.Option(8, "--gradient-accumulation", help="Steps per update."),
        learning_rate: float = typer.Option(2e-4, "--learning-rate"),
        lora_r: int = typer.Option(16, "--lora-r"),
        lora_alpha: int = typer.Option(32, "--lora-alpha"),
        target_modules: str = typer.Option("all-linear", "--target-modules",
                                           help="all-linear, or module names comma-separated."),
        max_length: int = typer.Option(4096, "--max-length", help="Longer examples are left out (counted)."),
        eval_steps: int = typer.Option(200, "--eval-steps"),
        save_steps: int = typer.Option(200, "--save-steps"),
        logging_steps: int = typer.Option(10, "--logging-steps"),
        no_gradient_checkpointing: bool = typer.Option(False, "--no-gradient-checkpointing"),
        resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint under OUT."),
        merge: bool = typer.Option(False, "--merge", help="Also write the merged model to OUT/merged (vLLM)."),
        seed: int = typer.Option(0, "--seed"),
        as_json: bool = typer.Option(False, "--json", help="Print the training report as one JSON object."),
    ) -> None:
        """LoRA fine-tuning, loss on the answer tokens only; writes an adapter the `local` generator loads."""
        from sft.train import TrainOptions, train

        options = TrainOptions(epochs=epochs, max_steps=max_steps, batch_size=batch_size,
                               gradient_accumulation=gradient_accumulation, learning_rate=learning_rate,
                               lora_r=lora_r, lora_alpha=lora_alpha, target_modules=target_modules,
                               max_length=max_length, eval_steps=eval_steps, save_steps=save_steps,
                               logging_steps=logging_steps, seed=seed,
                               gradient_checkpointing=not no_gradient_checkpointing, resume=resume, merge=merge)
        report = train(base, data, out, options, progress=lambda message: typer.echo(message, err=True))
        if as_json:
            typer.echo(json.dumps(report))
            return
        typer.echo(f"{report['steps']} steps  train loss {report['train_loss']}  eval loss "
                   f"{report['eval_loss_before']} -> {report['eval_loss_after']}  {report['tokens_per_second']} tokens/s")
        typer.echo(f"adapter: {out}  (IPQA_GENERATOR=local IPQA_LLM_PATH={base} IPQA_LORA_PATH={out})")

    app.add_typer(sft_app, name="sft")
