"""`ipqa train reranker`: cross-validate the LTR reranker on questions with gold articles, then train
it on all of them and write the artefact the ``ltr`` reranker loads."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add `ipqa train …` to the app."""
    train_app = typer.Typer(help="Train learned components from evaluation data.", no_args_is_help=True)

    @train_app.command("reranker")
    def reranker(
        dataset: Path = typer.Option(..., "--dataset", help="JSONL questions with gold articles (STARD format)."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: <data_dir>/models/ltr)."),
        folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds."),
        candidates: int = typer.Option(150, "--candidates", min=10, help="First-stage candidates per question."),
        association_candidates: int = typer.Option(50, "--association-candidates", min=0,
                                                   help="Articles the association model adds per question."),
        neighbours: int = typer.Option(30, "--neighbours", min=1, help="Past questions that vote."),
        seed: int = typer.Option(0, "--seed", help="Fold assignment seed."),
    ) -> None:
        """Print per-fold and mean R@1/5/10/100 and MRR (cross-validated), then write the final model."""
        from indexes.snapshot import open_snapshot
        from ipqa.settings import Settings
        from rag.rerank.features import QueryFeatureExtractor
        from rag.retrieval import default_ltr_model_path
        from rag.train import (CvOptions, cross_validate, first_stage_retriever, load_questions, prepare,
                               summary_text, train_final)

        settings = Settings()
        options = CvOptions(folds=folds, seed=seed, neighbours=neighbours,
                            association_candidates=association_candidates)
        out = out or default_ltr_model_path(settings)
        snapshot = open_snapshot(settings.index_root, embedder=_embedder(settings))
        try:
            questions, unresolved = load_questions(dataset, snapshot.store)
            typer.echo(f"{len(questions)} questions with resolvable gold; {len(unresolved)} gold names do not "
                       f"resolve in index {snapshot.version}")
            weights = _honest_weights(settings.fusion_weights, snapshot)
            retriever = first_stage_retriever(snapshot, candidates=candidates, fusion=settings.fusion,
                                              rrf_k=settings.rrf_k, weights=weights)
            extractor = QueryFeatureExtractor(snapshot.store)
            with typer.progressbar(length=len(questions), label="first stage") as bar:
                prepared = prepare(questions, retriever, extractor, progress=bar.update)
            baseline = cross_validate(prepared, snapshot.store, extractor, CvOptions(folds=folds, learned=False))
            typer.echo(f"first stage only: {summary_text(baseline.overall)}")
            result = cross_validate(prepared, snapshot.store, extractor, options, progress=typer.echo)
            typer.echo(f"mean over folds:  {summary_text(result.overall)}")
            metadata = {"dataset": str(dataset), "questions": len(questions), "index_version": snapshot.version,
                        "candidates": candidates, "folds": folds, "seed": seed,
                        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "cv": result.as_json(), "first_stage_cv": baseline.overall.as_row()}
            model = train_final(prepared, snapshot.store, extractor, options, metadata)
            path = model.save(out)
        finally:
            snapshot.close()
        typer.echo(f"wrote {path} (trained on all {len(questions)} questions)")

    @train_app.command("embedder")
    def embedder(
        language: str = typer.Option("zh", "--language", help="zh (English uses the bundled MiniLM)."),
        questions: Optional[Path] = typer.Option(
            None, "--questions", help="STARD-format JSONL of questions with gold_text (default: "
                                      "<shared_data>/evals/stard-train.jsonl when present)."),
        no_questions: bool = typer.Option(False, "--no-questions", help="Learn from the corpus alone."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: "
                                                               "<data_dir>/models/embedder-<language>)."),
        epochs: int = typer.Option(2, "--epochs", min=1),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """Train a static embedder for LANGUAGE on the current index's chunks (inverse cloze, citing
        context -> cited article, law + chapter -> article) plus question -> gold article pairs; resumes
        an interrupted run. `ipqa index rebuild` then embeds that language with it."""
        from indexes.embedder import default_zh_model_dir
        from indexes.embedder_training import TrainOptions, pairs_from_store, question_pairs, train_static_embedder
        from indexes.snapshot import open_snapshot
        from ipqa.settings import Settings

        settings = Settings()
        options = TrainOptions(language=language, epochs=epochs, seed=seed)  # refuses other languages
        target = out or default_zh_model_dir(settings.data_dir)
        snapshot = open_snapshot(settings.index_root, embedder=None)
        try:
            pairs, texts = pairs_from_store(snapshot.store, language, seed=seed)
            version = snapshot.version
        finally:
            snapshot.close()
        source = questions or settings.shared_data / "evals" / "stard-train.jsonl"
        if not no_questions and (questions is not None or source.is_file()):
            pairs += question_pairs(source) * options.question_repeats
        typer.echo(f"{len(pairs)} training pairs from index {version}" +
                   ("" if no_questions else f" and {source}"), err=True)
        report = train_static_embedder(pairs, texts, target, options, progress=lambda m: typer.echo(m, err=True),
                                       extra_info={"index_version": version,
                                                   "questions": None if no_questions else str(source)})
        typer.echo(f"wrote {target} ({report.seconds:.0f} s; pairs {report.pairs}); run `ipqa index rebuild` "
                   "to embed the corpus with it")

    @train_app.command("fields")
    def fields(
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: <data_dir>/models/fields)."),
    ) -> None:
        """Learn the field-of-law model of the domain prior from the current index (seconds)."""
        from indexes.snapshot import open_snapshot
        from ipqa.settings import Settings
        from rag.fields import train_field_model
        from rag.retrieval import default_field_model_path

        settings = Settings()
        snapshot = open_snapshot(settings.index_root, embedder=None)
        try:
            model = train_field_model(snapshot.store)
        finally:
            snapshot.close()
        path = model.save(out or default_field_model_path(settings))
        sizes = {language: len(model.fields(language)) for language in model.languages}
        typer.echo(f"wrote {path} (fields per language: {sizes})")

    app.add_typer(train_app, name="train")


def _honest_weights(weights, snapshot):
    """The fusion weights the reranker learns from, without the dense list of any language whose model
    was itself trained on questions (``ipqa train embedder`` with STARD): it has seen the very questions
    the reranker trains and cross-validates on, so its scores there would be memory, not evidence."""
    from indexes.routed_embedder import part_for

    embedder = getattr(snapshot, "_embedder", None)
    out = {language: dict(values) for language, values in weights.items()}
    for language in list(out):
        if embedder is None or language not in embedder.languages:
            continue
        info = getattr(part_for(embedder, language), "info", None)
        if info is not None and info.extra.get("questions") and out[language].get("dense", 0) > 0:
            typer.echo(f"note: the {language} dense list is left out of reranker training (its model was "
                       f"trained on {info.extra['questions']})", err=True)
            out[language]["dense"] = 0.0
    return out


def _embedder(settings):
    """The configured embedder, so the first stage is the one served (dense search for the
    languages it serves); the index refuses a different one."""
    from indexes.embedder import configured_embedder

    return configured_embedder(settings)
