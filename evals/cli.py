"""`ipqa eval …`: retrieval, exam, answers, compare.

Each run writes ``result.json``, ``report.md`` and ``chart.png`` to ``--out`` (default
``runs/<command>-<timestamp>/``), stamped with the git commit, index version and settings. With
``--json`` the command prints exactly one JSON object on stdout (progress goes to stderr).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer

if TYPE_CHECKING:
    from ipqa.settings import Settings


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ipqa` app."""
    eval_app = typer.Typer(help="Citation-checked evaluations: retrieval, exams, answers; compare runs.",
                           no_args_is_help=True)

    @eval_app.command("retrieval")
    def retrieval(
        dataset: Path = typer.Option(..., "--dataset", help="JSONL: question + gold citations (stard format)."),
        k: str = typer.Option("1,5,10,20,100", "--k", help="Cut-offs for recall@k, comma-separated."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/retrieval-<time>)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the figures."),
    ) -> None:
        """Recall@k, MRR and nDCG@10 of the configured retriever against resolved gold citations."""
        from evals.datasets import load_retrieval_examples
        from evals.provenance import cross_validated_figures, describe_reranker
        from evals.render import retrieval_report
        from evals.report import default_out_dir, file_sha256, stamp, write_run
        from evals.retrieval import evaluate_retrieval, parse_ks

        ks = parse_ks(k)
        examples = load_retrieval_examples(dataset, limit=limit)
        settings = _settings()
        snapshot = _open_snapshot(settings)
        try:
            retriever = _retriever(settings, snapshot)
            reranker, warnings = describe_reranker(retriever, settings, dataset=dataset,
                                                   dataset_sha256=file_sha256(dataset))
            evaluation = evaluate_retrieval(examples, retriever, snapshot.store, ks=ks,
                                            progress=_progress(len(examples), "retrieval"))
            run = stamp(command="eval retrieval", dataset=dataset, settings=settings, index_version=snapshot.version,
                        extra={"retriever": type(retriever).__name__, "reranker": reranker, "warnings": warnings,
                               "reranker_cv": cross_validated_figures(retriever, settings), "limit": limit})
        finally:
            snapshot.close()
        result = {"kind": "retrieval", "run": run, "summary": evaluation.summary(),
                  "unresolved_gold": evaluation.unresolved_gold,
                  "questions": [q.as_json() for q in evaluation.questions]}
        markdown, bars = retrieval_report(result)
        directory = write_run(out or default_out_dir("retrieval"), result, markdown,
                              chart_title="retrieval: " + dataset.name, bars=bars)
        summary = result["summary"]
        for warning in warnings:
            typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
        if as_json:
            typer.echo(json.dumps({"dataset": str(dataset), "n": summary["n"], "recall": summary["recall"],
                                   "mrr": summary["mrr"], "ndcg@10": summary["ndcg@10"],
                                   "unresolved_gold": summary["unresolved_gold"],
                                   "index_version": snapshot.version,
                                   **{key: summary[key] for key in ("by_language", "by_type", "by_topic")
                                      if key in summary}}, ensure_ascii=False))
            return
        recall = "  ".join(f"R@{key}={value:.4f}" for key, value in summary["recall"].items())
        typer.echo(f"{summary['n']} questions  {recall}  MRR={summary['mrr']:.4f}  "
                   f"nDCG@10={summary['ndcg@10']:.4f}  unresolved gold={summary['unresolved_gold']}  "
                   f"reranker={reranker}")
        typer.echo(f"report: {directory / 'report.md'}")

    @eval_app.command("exam")
    def exam(
        dataset: Path = typer.Option(..., "--dataset", help="JSONL multiple-choice exam (question, options, answer)."),
        mode: str = typer.Option("rag", "--mode", help="rag (with retrieved provisions) or closed (closed-book)."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
        k: int = typer.Option(5, "--k", min=1, max=50, help="Provisions put in the prompt in rag mode."),
        generator: Optional[str] = typer.Option(None, "--generator", help="Override the configured generator."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/exam-<time>)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the figures."),
    ) -> None:
        """Accuracy on multiple-choice questions (single and multiple answer), rag or closed-book."""
        from evals.datasets import load_exam_questions
        from evals.exam import MODES, evaluate_exam
        from evals.render import exam_report
        from evals.report import default_out_dir, stamp, write_run
        from ipqa.errors import InputError

        if mode not in MODES:
            raise InputError("--mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
        questions = load_exam_questions(dataset, limit=limit)
        settings = _settings(generator=generator)
        gen = _generator(settings)
        snapshot = _open_snapshot(settings) if mode == "rag" else None
        try:
            retriever = _retriever(settings, snapshot) if snapshot is not None else None
            evaluation = evaluate_exam(questions, gen, mode=mode, retriever=retriever, k=k,  # type: ignore[arg-type]
                                       progress=_progress(len(questions), "exam"))
            run = stamp(command="eval exam", dataset=dataset, settings=settings,
                        index_version=snapshot.version if snapshot is not None else None,
                        extra={"generator": gen.name, "mode": mode, "limit": limit,
                               "retriever": type(retriever).__name__ if retriever is not None else None})
        finally:
            if snapshot is not None:
                snapshot.close()
        result = {"kind": "exam", "run": run, "summary": evaluation.summary(),
                  "questions": [q.as_json() for q in evaluation.questions]}
        markdown, bars = exam_report(result)
        directory = write_run(out or default_out_dir("exam"), result, markdown,
                              chart_title=f"exam ({mode}, {gen.name}): {dataset.name}", bars=bars)
        summary = result["summary"]
        if summary.get("note"):
            typer.secho(summary["note"], fg=typer.colors.YELLOW, err=True)
        if as_json:
            typer.echo(json.dumps({key: summary[key] for key in ("n", "answered", "accuracy_single",
                                                                 "accuracy_multiple", "partial_credit", "mode",
                                                                 "generator")} | {"dataset": str(dataset)},
                                  ensure_ascii=False))
            return
        typer.echo(f"{summary['n']} questions  answered={summary['answered']}  "
                   f"single={summary['accuracy_single']}  multiple={summary['accuracy_multiple']}  "
                   f"partial={summary['partial_credit']}  mode={mode}  generator={gen.name}")
        typer.echo(f"report: {directory / 'report.md'}")

    @eval_app.command("answers")
    def answers(
        dataset: Path = typer.Option(..., "--dataset", help="JSONL with question, gold citations and reference answer."),
        limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
        judge: Optional[str] = typer.Option(None, "--judge",
                                            help="Support judge: lexical | cross-encoder | nli | llm."),
        judge_path: Optional[Path] = typer.Option(None, "--judge-path",
                                                  help="Model directory of the judge (llm: a local causal LM)."),
        bertscore_model: Optional[Path] = typer.Option(None, "--bertscore-model",
                                                       help="Local transformers model dir: also report BERTScore."),
        generator: Optional[str] = typer.Option(None, "--generator", help="Override the configured generator."),
        out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/answers-<time>)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object with the figures."),
    ) -> None:
        """Citation precision/recall (ALCE), fabricated-citation and abstention rates, ROUGE-L (BERTScore)."""
        from evals.answers import evaluate_answers
        from evals.datasets import load_retrieval_examples
        from evals.render import answers_report
        from evals.report import default_out_dir, stamp, write_run
        from evals.judges import create_eval_judge
        from evals.similarity import BertScorer
        from rag.pipeline import build_answerer

        examples = load_retrieval_examples(dataset, limit=limit)
        # The eval's judge is chosen here; the answerer keeps the configured one (an "llm" judge is
        # the evaluation's, not a serving option).
        settings = _settings(generator=generator)
        support_judge = create_eval_judge(judge or settings.support_judge, settings,
                                          model_path=judge_path or settings.support_judge_path)
        scorer = BertScorer(bertscore_model, device=settings.embed_device) if bertscore_model else None
        snapshot = _open_snapshot(settings)
        try:
            from evals.provenance import describe_reranker
            from evals.report import file_sha256

            retriever = _retriever(settings, snapshot)
            reranker, warnings = describe_reranker(retriever, settings, dataset=dataset,
                                                   dataset_sha256=file_sha256(dataset))
            answerer = build_answerer(settings, snapshot, retriever=retriever)
            evaluation = evaluate_answers(examples, answerer, snapshot.store, support_judge,
                                          threshold=settings.support_threshold, bertscorer=scorer,
                                          progress=_progress(len(examples), "answers"))
            run = stamp(command="eval answers", dataset=dataset, settings=settings, index_version=snapshot.version,
                        extra={"generator": answerer.generator.name, "judge": support_judge.name,
                               "support_threshold": settings.support_threshold,
                               "bertscore_model": str(bertscore_model) if bertscore_model else None,
                               "reranker": reranker, "warnings": warnings, "limit": limit})
        finally:
            snapshot.close()
        result = {"kind": "answers", "run": run, "summary": evaluation.summary(),
                  "questions": [q.as_json() for q in evaluation.questions]}
        markdown, bars = answers_report(result)
        directory = write_run(out or default_out_dir("answers"), result, markdown,
                              chart_title=f"answers ({run['generator']}): {dataset.name}", bars=bars)
        summary = result["summary"]
        for warning in run["warnings"]:
            typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
        if as_json:
            typer.echo(json.dumps({"dataset": str(dataset), **{key: value for key, value in summary.items()
                                                               if key != "seconds"},
                                   "generator": run["generator"], "judge": run["judge"],
                                   "index_version": run["index_version"]}, ensure_ascii=False))
            return
        typer.echo("  ".join(f"{key}={summary[key]}" for key in (
            "n", "answered", "citation_precision", "citation_recall", "fabricated_rate", "abstention_rate",
            "rouge_l", "bertscore_f1")))
        typer.echo(f"report: {directory / 'report.md'}")

    @eval_app.command("compare")
    def compare(
        run_a: Path = typer.Argument(..., help="Run directory (or its result.json): the baseline."),
        run_b: Path = typer.Argument(..., help="Run directory (or its result.json): the candidate."),
        k: int = typer.Option(10, "--k", min=1, help="Retrieval runs: a gold article counts as found within top k."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """What moved between two runs: metric deltas and per-question gains and losses."""
        from evals.compare import compare_runs, comparison_text
        from evals.report import load_run

        comparison = compare_runs(load_run(run_a), load_run(run_b), k=k)
        if as_json:
            typer.echo(json.dumps(comparison.as_json(), ensure_ascii=False))
        else:
            typer.echo(comparison_text(comparison))

    app.add_typer(eval_app, name="eval")


# --- edges: settings and the configured components -----------------------------------------------


def _settings(**overrides: Any) -> "Settings":
    from ipqa.settings import Settings

    settings = Settings()
    updates = {key: value for key, value in overrides.items() if value is not None}
    return settings.model_copy(update=updates) if updates else settings


def _open_snapshot(settings: "Settings") -> Any:
    from indexes.embedder import configured_embedder
    from indexes.snapshot import open_snapshot

    return open_snapshot(settings.index_root, embedder=configured_embedder(settings))


def _retriever(settings: "Settings", snapshot: Any) -> Any:
    from rag.pipeline import build_retriever

    return build_retriever(settings, snapshot)


def _generator(settings: "Settings") -> Any:
    from rag.generators import GeneratorOptions, create_generator

    return create_generator(settings.generator, GeneratorOptions(
        llm_path=settings.llm_path, lora_path=settings.lora_path, openai_base_url=settings.openai_base_url,
        openai_model=settings.openai_model, openai_api_key=settings.openai_api_key,
        max_new_tokens=settings.max_new_tokens, temperature=settings.temperature, device=settings.embed_device))


def _progress(total: int, what: str) -> Callable[[int], None]:
    """A progress reporter that writes a line to stderr every 10% (stdout stays clean for --json)."""
    done = 0
    step = max(1, total // 10)

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if done % step == 0 or done == total:
            typer.echo(f"{what}: {done}/{total}", err=True)

    return advance
