"""Side-by-side retrieval on the practitioner-style IP questions (ip-qa-dev) and the STARD lay
questions: the plain BM25 + jieba anchor over the same chunks, each component alone and ablated, and
the full default system, all in one run over the current index.

    IPQA_DATA_DIR=/path python benchmarks/retrieval_ip.py [--stard-limit N] [--json]

Configurations (every one over the same index version):

* ``anchor``: BM25 over the indexed text as asked (no filler removal, no law-name search, no cited-first,
  no cross-reference expansion, no dense list) — what a LlamaIndex BM25Retriever with jieba gives;
* ``first stage``: ipqa's lexical first stage (filler removal, named-law search, cited-first,
  expansion) plus English MiniLM; no Chinese dense list, no domain prior, no reranker;
* ``+ zh dense``, ``+ domain prior``, ``+ LTR (all fields)``: components added one at a time;
* ``default``: what the settings give (zh dense, domain prior, the LTR reranker only for the fields it
  was validated on);
* ``default - X``: the default with one component removed.

STARD: the Chinese dense model is trained on stard-train's questions (``ipqa train embedder``), and the
LTR model too, so no STARD figure computed here includes either (they would be memory, not retrieval);
the LTR's own 5-fold cross-validated figures are read from its artefact and printed beside them. Those
include the dense list when the embedder has held-out models: each STARD question's dense list then
comes from the model that never saw it (``indexes/held_out_dense.py``). With several rerankers (the main
one and ``models/ltr-*``), "default as served" scores each STARD question by the cross-validated figures
of the reranker the router gives it (``rag.train.cv_as_served``), read from the artefacts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _retriever(settings: Any, snapshot: Any, **updates: Any) -> Any:
    from rag.compose import build_retriever

    return build_retriever(settings.model_copy(update=updates), snapshot)


def _anchor(snapshot: Any) -> Any:
    from rag.retrieval import HybridRetriever

    return HybridRetriever(snapshot, clean_query=False, law_boost=False, cited_first=False, expand_references=False,
                           weights={"zh": {"bm25": 1.0, "dense": 0.0}, "en": {"bm25": 1.0, "dense": 0.0}})


def _figures(evaluation: Any) -> dict[str, Any]:
    summary = evaluation.summary()
    out = {"all": {"n": summary["scored"], "recall": summary["recall"], "mrr": summary["mrr"]}}
    for key in ("by_language", "by_type", "by_topic"):
        if key in summary:
            out[key] = summary[key]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ip-qa", type=Path, default=None)
    parser.add_argument("--stard", type=Path, default=None)
    parser.add_argument("--stard-limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from evals.datasets import load_retrieval_examples
    from evals.retrieval import evaluate_retrieval
    from indexes.snapshot import open_snapshot
    from ipqa.settings import Settings
    from rag.compose import build_embedder

    settings = Settings()
    ip_qa = args.ip_qa or settings.shared_data / "evals" / "ip-qa-dev.jsonl"
    stard = args.stard or settings.shared_data / "evals" / "stard-train.jsonl"
    snapshot = open_snapshot(settings.index_root, embedder=build_embedder(settings))
    no_zh_dense = {language: dict(w) for language, w in settings.fusion_weights.items()}
    no_zh_dense.setdefault("zh", {"bm25": 1.0})["dense"] = 0.0
    ks = (1, 5, 10, 20, 100)
    configurations: dict[str, Any] = {
        "anchor (plain BM25 + jieba)": lambda: _anchor(snapshot),
        "first stage": lambda: _retriever(settings, snapshot, fusion_weights=no_zh_dense, field_model="none",
                                          reranker="none"),
        "+ zh dense": lambda: _retriever(settings, snapshot, field_model="none", reranker="none"),
        "+ zh dense + domain prior": lambda: _retriever(settings, snapshot, reranker="none"),
        "+ zh dense + LTR (all fields, no prior)": lambda: _retriever(settings, snapshot, field_model="none",
                                                                     reranker_fields=None),
        "default": lambda: _retriever(settings, snapshot),
        "default - zh dense": lambda: _retriever(settings, snapshot, fusion_weights=no_zh_dense),
        "default - domain prior": lambda: _retriever(settings, snapshot, field_model="none"),
        "default - LTR": lambda: _retriever(settings, snapshot, reranker="none"),
    }
    stard_configurations = ("anchor (plain BM25 + jieba)", "first stage")
    results: dict[str, Any] = {"index_version": snapshot.version, "ip_qa": {}, "stard": {}}
    try:
        examples = load_retrieval_examples(ip_qa)
        for name, make in configurations.items():
            results["ip_qa"][name] = _figures(evaluate_retrieval(examples, make(), snapshot.store, ks=ks))
            print(f"ip-qa-dev  {name}: done", file=sys.stderr)
        if stard.is_file():
            stard_examples = load_retrieval_examples(stard, limit=args.stard_limit)
            for name in stard_configurations:
                results["stard"][name] = _figures(evaluate_retrieval(stard_examples, configurations[name](),
                                                                     snapshot.store, ks=ks))
                print(f"stard  {name}: done", file=sys.stderr)
            from rag.compose import default_ltr_model_path

            model_file = default_ltr_model_path(settings) / "model.json"
            if model_file.is_file():
                metadata = json.loads(model_file.read_text(encoding="utf-8")).get("metadata", {})
                results["stard"]["LTR 5-fold CV, all its training questions (from its artefact)"] = (
                    metadata.get("cv") or {}).get("overall")
                results["stard"]["LTR first stage 5-fold CV"] = metadata.get("first_stage_cv")
                # trained on several datasets: the cross-validated figures of each (STARD's own, and the IP
                # questions', which involve no ip-qa-dev question)
                for dataset, row in (metadata.get("cv_by_dataset") or {}).items():
                    results["stard"][f"LTR 5-fold CV on {dataset} only"] = row["reranked"]
                    results["stard"][f"first stage on {dataset} only"] = row["first_stage"]
                # the default as served: each STARD question by the fold model of the reranker the
                # router gives it (the main one, or e.g. models/ltr-stard for lay civil-law questions)
                from rag.train import cv_as_served, load_questions

                stard_questions = load_questions(stard, snapshot.store)[0][:args.stard_limit]
                served_retriever = configurations["default"]()
                served = cv_as_served(served_retriever, stard_questions)
                results["stard"]["default as served: 5-fold CV of the reranker each question is routed to"] = served
                # the router's records hold each question's own result: routed without it, the honest figure
                results["stard"]["default as served, each question routed by records without its own result"] = (
                    cv_as_served(served_retriever, stard_questions, leave_one_out=True))
                print(f"stard  as served: {served['served_by']}", file=sys.stderr)
                if served["unscored"]:
                    print(f"warning: {served['unscored']} STARD questions are in no reranker's cross-validation "
                          "(trained on another file or index?): left out of the 'as served' figures", file=sys.stderr)
    finally:
        snapshot.close()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=1))
        return
    print(table(results))


def table(results: dict[str, Any]) -> str:
    lines = [f"index {results['index_version']}", "",
             "| ip-qa-dev | zh R@10 | zh MRR | en R@10 | en MRR | all R@100 |", "|---|---|---|---|---|---|"]
    for name, figures in results["ip_qa"].items():
        by_language = figures.get("by_language", {})
        zh, en = by_language.get("zh", {}), by_language.get("en", {})
        lines.append(f"| {name} | {zh.get('recall', {}).get('10', 0):.3f} | {zh.get('mrr', 0):.3f} | "
                     f"{en.get('recall', {}).get('10', 0):.3f} | {en.get('mrr', 0):.3f} | "
                     f"{figures['all']['recall']['100']:.3f} |")
    lines += ["", "| STARD | R@10 | R@100 | MRR |", "|---|---|---|---|"]
    for name, figures in results["stard"].items():
        if not figures or figures.get("R@10", 0) is None:
            continue
        if "all" in figures:
            figures = {"recall": figures["all"]["recall"], "mrr": figures["all"]["mrr"]}
        recall = figures.get("recall", figures)
        get = (lambda k: recall.get(str(k), recall.get(f"R@{k}", recall.get(k, float("nan")))))
        lines.append(f"| {name} | {float(get(10)):.3f} | {float(get(100)):.3f} | "
                     f"{float(figures.get('mrr', figures.get('MRR', float('nan')))):.3f} |")
    lines += ["", "| ip-qa-dev group | n | anchor R@10 / MRR | default R@10 / MRR | |", "|---|---|---|---|---|"]
    anchor, default = results["ip_qa"].get("anchor (plain BM25 + jieba)"), results["ip_qa"].get("default")
    for key in ("by_language", "by_type", "by_topic"):
        for group, mine in sorted(((default or {}).get(key) or {}).items()):
            theirs = (anchor or {}).get(key, {}).get(group, {})
            worse = (mine["recall"]["10"] < theirs.get("recall", {}).get("10", 0)
                     or mine["mrr"] < theirs.get("mrr", 0))
            lines.append(f"| {key[3:]} {group} | {mine.get('questions', mine.get('n', ''))} | "
                         f"{theirs.get('recall', {}).get('10', 0):.3f} / {theirs.get('mrr', 0):.3f} | "
                         f"{mine['recall']['10']:.3f} / {mine['mrr']:.3f} | {'**worse**' if worse else ''} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
