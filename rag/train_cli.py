"""`ipqa train reranker`: cross-validate the LTR reranker on questions with gold articles, then train
it on all of them and write the artefact the ``ltr`` reranker loads."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer

from ipqa.errors import InputError


def register(app: typer.Typer) -> None:
    """Add `ipqa train …` to the app."""
    train_app = typer.Typer(help="Train learned components from evaluation data.", no_args_is_help=True)

    @train_app.command("reranker")
    def reranker(
        datasets: list[Path] = typer.Option(..., "--dataset", help="JSONL questions with gold articles (STARD "
                                            "format); repeat it to train on several (e.g. STARD and the IP "
                                            "questions of rag/data/ip_questions.jsonl)."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: <data_dir>/models/ltr)."),
        folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds."),
        candidates: int = typer.Option(150, "--candidates", min=10, help="First-stage candidates per question."),
        association_candidates: int = typer.Option(50, "--association-candidates", min=0,
                                                   help="Articles the association model adds per question."),
        neighbours: int = typer.Option(30, "--neighbours", min=1, help="Past questions that vote."),
        seed: int = typer.Option(0, "--seed", help="Fold assignment seed."),
        language: Optional[str] = typer.Option(None, "--language", help="Train on the questions of this language "
                                               "only (zh or en): a model per language ranks better than one "
                                               "linear model for both (docs/benchmarks.md)."),
        min_group: int = typer.Option(10, "--min-group-questions", min=1,
                                      help="A language or field of law needs this many training questions for "
                                           "the reranker to be validated (and served) on it."),
    ) -> None:
        """Print per-fold and mean R@1/5/10/100 and MRR (cross-validated), then write the final model."""
        from indexes.snapshot import open_snapshot
        from ipqa.settings import Settings
        from rag.rerank.features import QueryFeatureExtractor
        from rag.compose import build_embedder, default_ltr_model_path
        from rag.compose import build_domain_prior
        from rag.train import (CvOptions, cross_validate, first_stage_retriever, load_datasets, prepare,
                               summary_text, train_final)

        if language is not None and language not in ("zh", "en"):
            raise InputError("--language", f"{language!r} is not a language ipqa trains for; valid: zh, en")
        settings = Settings()
        options = CvOptions(folds=folds, seed=seed, neighbours=neighbours,
                            association_candidates=association_candidates)
        out = out or default_ltr_model_path(settings)
        # the configured embedder, so the first stage is the one served (dense search for the
        # languages it serves); the index refuses a different one
        snapshot = open_snapshot(settings.index_root, embedder=build_embedder(settings))
        try:
            questions, unresolved = load_datasets(datasets, snapshot.store)
            if language is not None:
                from indexes.text import detect_language

                questions = [q for q in questions if str(detect_language(q.question)) == language]
                typer.echo(f"{len(questions)} of them in {language}")
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
            validation = _validation(prepared, result, baseline, build_domain_prior(settings), min_group)
            metadata = {"dataset": [str(d) for d in datasets], "language_filter": language,
                        "questions": len(questions),
                        "index_version": snapshot.version, "candidates": candidates, "folds": folds, "seed": seed,
                        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "cv": result.as_json(), "first_stage_cv": baseline.overall.as_row(), **validation}
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
        from rag.compose import default_field_model_path

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


def _validation(prepared, result, baseline, domain_prior, min_group: int) -> dict:
    """Where the reranker was validated better than the first stage, by cross-validation on the
    training questions: per dataset (reported), per language and per field of law (the likeliest
    field of the question, as the domain prior's field model reads it when serving). The reranker is
    then served only for the languages and fields it won (``languages`` / ``validated_fields`` in
    the artefact; ``IPQA_RERANKER_FIELDS=auto``)."""
    from indexes.text import detect_language
    from rag.train import validate_groups

    def field_of(item) -> str:
        posterior = domain_prior.field_posterior(item.analyzed.lexical, item.analyzed.language)
        return max(posterior, key=posterior.get) if posterior else "unknown"

    tables = {"by_dataset": validate_groups(prepared, result, baseline, lambda item: item.question.source,
                                            min_questions=min_group),
              "by_language": validate_groups(prepared, result, baseline,
                                             lambda item: str(detect_language(item.question.question)),
                                             min_questions=min_group)}
    if domain_prior is not None and domain_prior.fields is not None:
        tables["by_field"] = validate_groups(prepared, result, baseline, field_of, min_questions=min_group)
    else:
        typer.echo("note: no field model (`ipqa train fields`), so no field of law is validated: served as the "
                   "main model, the reranker keeps to the fields a STARD-only model was validated on; as an "
                   "extra model (models/ltr-*), to none", err=True)
    for name, rows in tables.items():
        typer.echo(f"cross-validated {name.replace('_', ' ')} (reranked vs first stage, R@10 / MRR):")
        for row in rows:
            mark = "validated" if row.validated else "not validated"
            typer.echo(f"  {row.group:<22} n={row.questions:<5} {row.reranked['R@10']:.3f} / {row.reranked['MRR']:.3f}"
                       f"  vs  {row.first_stage['R@10']:.3f} / {row.first_stage['MRR']:.3f}  {mark}")
    out = {f"cv_{name}": {row.group: row.as_json() for row in rows} for name, rows in tables.items()}
    out["languages"] = sorted(row.group for row in tables["by_language"] if row.validated)
    if "by_field" in tables:
        out["validated_fields"] = sorted(row.group for row in tables["by_field"] if row.validated)
    return out


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

