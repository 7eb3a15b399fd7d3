"""`ipqa train reranker`: cross-validate the LTR reranker on questions with gold articles, then train
it on all of them and write the artefact the ``ltr`` reranker loads."""

from __future__ import annotations

import re
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
        name: Optional[str] = typer.Option(None, "--name", help="Write <data_dir>/models/ltr-NAME instead: a model "
                                           "served beside the main one, for the fields of law where it "
                                           "cross-validated better (e.g. `--name stard` trained on STARD alone "
                                           "for lay civil-law questions)."),
        folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds."),
        candidates: Optional[int] = typer.Option(None, "--candidates", min=10,
                                                 help="First-stage candidates per question (default: the "
                                                      "`candidates` setting, the depth the retriever serves)."),
        association_candidates: int = typer.Option(50, "--association-candidates", min=0,
                                                   help="Articles the association model adds per question."),
        neighbours: int = typer.Option(30, "--neighbours", min=1, help="Past questions that vote."),
        cocitation_candidates: int = typer.Option(50, "--cocitation-candidates", min=0,
                                                  help="Articles cited together with the first stage's (in past "
                                                       "questions' gold) added per question."),
        scorer: str = typer.Option("trees", "--scorer", help="trees (gradient-boosted, LightGBM) or linear."),
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
        from rag.compose import build_embedder, default_ltr_model_path, named_ltr_model_path
        from rag.compose import build_domain_prior
        from rag.train import (PER_QUESTION_COLUMNS, CvOptions, cross_validate, first_stage_retriever,
                               load_datasets, prepare, summary_text, train_final)

        if language is not None and language not in ("zh", "en"):
            raise InputError("--language", f"{language!r} is not a language ipqa trains for; valid: zh, en")
        settings = Settings()
        candidates = candidates or settings.candidates
        options = CvOptions(folds=folds, seed=seed, neighbours=neighbours,
                            association_candidates=association_candidates,
                            cocitation_candidates=cocitation_candidates, scorer=scorer)
        if name is not None:
            if out is not None:
                raise InputError("--name", "give --out or --name, not both")
            if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise InputError("--name", f"{name!r} is not a model name (letters, digits, - and _)")
            out = named_ltr_model_path(settings, name)
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

            def make_retriever(over, weights):
                return first_stage_retriever(over, candidates=candidates, fusion=settings.fusion,
                                             rrf_k=settings.rrf_k, weights=weights,
                                             list_depth_factor=settings.list_depth_factor)

            weights, retriever_for, dense_training = _dense_for_training(settings.fusion_weights, snapshot,
                                                                         make_retriever)
            retriever = make_retriever(snapshot, weights)
            extractor = QueryFeatureExtractor(snapshot.store, snapshot)
            with typer.progressbar(length=len(questions), label="first stage") as bar:
                prepared = prepare(questions, retriever, extractor, progress=bar.update, retriever_for=retriever_for)
            baseline = cross_validate(prepared, snapshot.store, extractor, CvOptions(folds=folds, learned=False))
            typer.echo(f"first stage only: {summary_text(baseline.overall)}")
            result = cross_validate(prepared, snapshot.store, extractor, options, progress=typer.echo)
            typer.echo(f"mean over folds:  {summary_text(result.overall)}")
            validation = _validation(prepared, result, baseline, build_domain_prior(settings), min_group)
            metadata = {"dataset": [str(d) for d in datasets], "language_filter": language,
                        "questions": len(questions),
                        "index_version": snapshot.version, "candidates": candidates,
                        "list_depth_factor": settings.list_depth_factor,
                        "dense_training": dense_training, "folds": folds, "seed": seed,
                        # the languages whose candidates' dense scores it learned from (rag.train.prepare)
                        "dense_features": sorted(language for language, values in weights.items()
                                                 if values.get("dense", 0) > 0
                                                 and language in snapshot.embedder_languages),
                        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        "cv": result.as_json(), "first_stage_cv": baseline.overall.as_row(), **validation,
                        # per question, so a benchmark can score questions routed between rerankers
                        "cv_per_question": {"columns": list(PER_QUESTION_COLUMNS),
                                            "reranked": result.per_question(prepared),
                                            "first_stage": baseline.per_question(prepared)}}
            model = train_final(prepared, snapshot.store, extractor, options, metadata)
            path = model.save(out)
        finally:
            snapshot.close()
        typer.echo(f"wrote {path} (trained on all {len(questions)} questions)")

    @train_app.command("embedder")
    def embedder(
        language: str = typer.Option("zh", "--language", help="zh: a static model trained from scratch; en: the "
                                                             "bundled MiniLM adapted to the corpus's legal English."),
        questions: Optional[list[Path]] = typer.Option(
            None, "--questions", help="(zh) JSONL of questions with gold articles (STARD's gold_text, or gold names "
                                      "resolved in the index); repeatable. Default: <shared_data>/evals/"
                                      "stard-train.jsonl when present and the IP questions of "
                                      "rag/data/ip_questions.jsonl; only questions in LANGUAGE are used."),
        no_questions: bool = typer.Option(False, "--no-questions", help="(zh) Learn from the corpus alone."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: "
                                                               "<data_dir>/models/embedder-<language>)."),
        epochs: Optional[int] = typer.Option(None, "--epochs", min=1, help="Default: 2 (zh), 1 (en)."),
        seed: int = typer.Option(0, "--seed"),
        held_out_folds: Optional[int] = typer.Option(
            None, "--held-out-folds", min=0,
            help="(zh; default 5) Also train one model per fold of the questions, without that fold (0: none). `ipqa train "
                 "reranker` reads each question's dense scores from the model that never saw it; without them "
                 "it has to leave the dense list out of what it learns."),
        base: Optional[Path] = typer.Option(None, "--base", help="(en) The sentence-transformers model to adapt "
                                                                 "(default: the bundled MiniLM)."),
    ) -> None:
        """Train the dense retriever for LANGUAGE on the current index's chunks; resumes an interrupted
        run and reuses a finished one. zh: a static model from inverse cloze, citing context -> cited
        article, law + chapter -> article, plus question -> gold article pairs. en: the bundled MiniLM
        adapted on section heading -> text, subsection -> section, claims -> abstract (no questions).
        `ipqa index rebuild` then embeds that language with it."""
        if language not in ("zh", "en"):
            raise InputError("--language", f"{language!r}: ipqa trains embedders for zh and en")
        if language == "en":
            for given, option in ((questions, "--questions"), (no_questions, "--no-questions"),
                                  (held_out_folds is not None, "--held-out-folds")):
                if given:
                    raise InputError(option, "the English model learns from the corpus alone (no question is a "
                                             "training pair, so the reranker can trust its scores on its training "
                                             "questions): this option is for --language zh")
            _adapt_english(out=out, epochs=epochs, seed=seed, base=base)
            return
        held_out_folds = 5 if held_out_folds is None else held_out_folds
        if base is not None:
            raise InputError("--base", "only --language en adapts a base model; Chinese is trained from scratch")
        from indexes.embedder import default_zh_model_dir
        from indexes.embedder_training import (TrainOptions, held_out_folds as cut_folds, held_out_model_dir,
                                               keyed_question_pairs, pairs_from_store, train_static_embedder)
        from rag.data import default_ip_questions
        from indexes.snapshot import open_snapshot
        from ipqa.settings import Settings

        settings = Settings()
        options = TrainOptions(language=language, epochs=epochs or 2, seed=seed)  # refuses other languages
        if held_out_folds == 1:
            raise InputError("--held-out-folds", "one fold would hold every question out: use 0 (none) or >= 2")
        target = out or default_zh_model_dir(settings.data_dir)
        if questions:
            sources = list(questions)
        else:
            stard = settings.shared_data / "evals" / "stard-train.jsonl"
            sources = [p for p in (stard, default_ip_questions()) if p.is_file()]
        sources = [] if no_questions else sources
        snapshot = open_snapshot(settings.index_root, embedder=None)
        try:
            corpus, texts = pairs_from_store(snapshot.store, language, seed=seed)
            asked = keyed_question_pairs(sources, lookup=snapshot.store, language=language)
            version = snapshot.version
        finally:
            snapshot.close()

        def question_pairs(held_out: frozenset[str] = frozenset()) -> list:
            return [pair for key, pairs in asked.items() if key not in held_out for pair in pairs]

        pairs = corpus + question_pairs() * options.question_repeats
        typer.echo(f"{len(pairs)} training pairs from index {version}" +
                   (f" and {len(asked)} questions of {', '.join(p.name for p in sources)}" if asked else ""), err=True)
        info = {"index_version": version, "questions": [str(p) for p in sources] if asked else None}
        folds = cut_folds(list(asked), held_out_folds, seed=seed) if asked and held_out_folds else []
        report = train_static_embedder(pairs, texts, target, options, progress=lambda m: typer.echo(m, err=True),
                                       extra_info=info)
        typer.echo(f"wrote {target} ({report.seconds:.0f} s; pairs {report.pairs}); run `ipqa index rebuild` "
                   "to embed the corpus with it")
        _remove_stale_held_out(target, len(folds))
        for fold, held_out in enumerate(folds):
            fold_dir = held_out_model_dir(target, fold)
            typer.echo(f"held-out model {fold + 1}/{len(folds)}: {len(held_out)} questions left out", err=True)
            report = train_static_embedder(
                corpus + question_pairs(held_out) * options.question_repeats, texts, fold_dir, options,
                progress=lambda m: typer.echo(m, err=True),
                extra_info={**info, "fold": fold, "folds": len(folds), "held_out": sorted(held_out)})
            typer.echo(f"wrote {fold_dir} ({report.seconds:.0f} s)")

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


def _adapt_english(*, out: Optional[Path], epochs: Optional[int], seed: int, base: Optional[Path]) -> None:
    """``ipqa train embedder --language en``: the bundled MiniLM (or ``base``) adapted on the index's
    English pairs (``indexes.transformer_training``), written to ``<data_dir>/models/embedder-en``."""
    from indexes.embedder import default_en_model_dir, english_model_spec, minilm_model_dir
    from indexes.snapshot import open_snapshot
    from indexes.transformer_training import AdaptOptions, adapt_sentence_transformer, english_pairs_from_store
    from ipqa.settings import Settings

    settings = Settings()
    options = AdaptOptions(epochs=epochs or AdaptOptions.epochs, seed=seed)
    base_dir = (base or minilm_model_dir()).expanduser().resolve()
    target = out or default_en_model_dir(settings.data_dir)
    snapshot = open_snapshot(settings.index_root, embedder=None)
    try:
        pairs = english_pairs_from_store(snapshot.store, options)
        version = snapshot.version
    finally:
        snapshot.close()
    typer.echo(f"{len(pairs)} English training pairs from index {version}; adapting {base_dir}", err=True)
    report = adapt_sentence_transformer(base_dir, pairs, target, options, progress=lambda m: typer.echo(m, err=True),
                                        extra_info={"index_version": version, "base_model": str(base_dir),
                                                    "questions": None})
    if Path(english_model_spec(settings.embedder, settings.embedder_en, settings.data_dir)).resolve() == target.resolve():
        typer.echo(f"wrote {target} ({report.seconds:.0f} s; pairs {report.pairs}); run `ipqa index rebuild` to "
                   "embed the English chunks with it, then `ipqa train reranker` (it learned from the old dense scores)")
    else:
        typer.echo(f"wrote {target} ({report.seconds:.0f} s; pairs {report.pairs}); not what serves English with "
                   f"these settings (IPQA_EMBEDDER={settings.embedder!r}, IPQA_EMBEDDER_EN={settings.embedder_en!r}): "
                   "set IPQA_EMBEDDER_EN to it to use it")


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


def _remove_stale_held_out(model_dir: Path, folds: int) -> None:
    """Remove the held-out models of an earlier run that this run does not retrain (more folds than
    now, or none now): a reranker must never read a fold model of other questions or fold lines."""
    import shutil

    from indexes.embedder_training import HELD_OUT_DIR

    root = model_dir / HELD_OUT_DIR
    if not root.is_dir():
        return
    keep = {f"fold-{k}" for k in range(folds)}
    for directory in root.iterdir():
        if directory.name not in keep:
            shutil.rmtree(directory) if directory.is_dir() else directory.unlink()
            typer.echo(f"removed {directory} (not part of this run's held-out models)", err=True)
    if not any(root.iterdir()):
        root.rmdir()


def _dense_for_training(weights, snapshot, make_retriever):
    """The fusion weights the reranker learns from, and the held-out retrievers of the questions a
    dense model was itself trained on (``ipqa train embedder`` with STARD). That model has seen those
    very questions, so its scores there are memory, not evidence: each such question's dense list comes
    from the held-out model that never saw it (``indexes.held_out_dense``); a model trained without
    held-out models (or with held-out models of other questions) has its dense list left out of what
    the reranker learns, as before. ``make_retriever(snapshot, weights)`` builds a first stage."""
    from indexes.held_out_dense import held_out_models
    from indexes.routed_embedder import part_for
    from rag.train import HeldOutRetrievers

    embedder = getattr(snapshot, "_embedder", None)
    out = {language: dict(values) for language, values in weights.items()}
    held_out: list[HeldOutRetrievers] = []
    how: dict[str, str] = {}
    for language in list(out):
        if embedder is None or language not in embedder.languages or out[language].get("dense", 0) <= 0:
            continue
        part = part_for(embedder, language)
        info = getattr(part, "info", None)
        if info is None or not info.extra.get("questions"):
            continue
        models = held_out_models(part.model_dir)
        trained_on = info.extra["questions"]
        trained_on = tuple(trained_on) if isinstance(trained_on, list) else (trained_on,)
        if models and models[0].questions != trained_on:
            typer.echo(f"note: the held-out models of {part.model_dir} learned from {list(models[0].questions)}, "
                       f"the model from {list(trained_on)}: run `ipqa train embedder` again", err=True)
            models = []
        if models:
            # ``out`` as it stands when a held-out model is first used: every language's weights settled
            held_out.append(HeldOutRetrievers(snapshot, models, language, lambda over: make_retriever(over, out)))
            names = ", ".join(Path(p).name for p in models[0].questions)
            how[language] = f"held-out models ({len(models)} folds of {names})"
            typer.echo(f"note: the {language} dense list of the questions of {names} comes from the held-out "
                       f"model that never saw each ({len(models)} folds)", err=True)
        else:
            out[language]["dense"] = 0.0
            how[language] = "left out"
            typer.echo(f"note: the {language} dense list is left out of reranker training (its model was "
                       f"trained on {info.extra['questions']} and has no held-out models: `ipqa train "
                       "embedder` trains them)", err=True)

    def retriever_for(question):
        for retrievers in held_out:
            found = retrievers(question)
            if found is not None:
                return found
        return None

    return out, (retriever_for if held_out else None), how
