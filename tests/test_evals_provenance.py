"""The report names the active reranker and warns when a learned one was fitted on the evaluated set."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from evals.provenance import cross_validated_figures, describe_reranker
from evals.report import file_sha256
from ipqa.settings import Settings


def _retriever(reranker: object | None) -> SimpleNamespace:
    return SimpleNamespace(reranker=reranker)


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "var", **kw)


def test_no_reranker_and_unlearned_reranker_need_no_warning(tmp_path: Path) -> None:
    dataset = tmp_path / "stard-train.jsonl"
    dataset.write_text("{}\n", encoding="utf-8")
    assert describe_reranker(_retriever(None), _settings(tmp_path), dataset=dataset,
                             dataset_sha256=file_sha256(dataset)) == ("none", [])
    rule_based = SimpleNamespace(name="rules")
    assert describe_reranker(_retriever(rule_based), _settings(tmp_path), dataset=dataset,
                             dataset_sha256="x") == ("rules", [])


def test_ltr_fitted_on_the_evaluated_dataset_is_flagged(tmp_path: Path) -> None:
    dataset = tmp_path / "stard-train.jsonl"
    dataset.write_text("{}\n", encoding="utf-8")
    cv = {"overall": {"R@10": 0.58, "MRR": 0.45, "questions": 1235}}
    ltr = SimpleNamespace(name="ltr", model=SimpleNamespace(metadata={"dataset": str(dataset), "cv": cv}))
    name, warnings = describe_reranker(_retriever(ltr), _settings(tmp_path), dataset=dataset,
                                       dataset_sha256=file_sha256(dataset))
    assert name == "ltr" and len(warnings) == 1 and "fitted on stard-train.jsonl" in warnings[0]
    assert cross_validated_figures(_retriever(ltr), _settings(tmp_path)) == cv

    other = tmp_path / "other.jsonl"
    other.write_text("{}\n", encoding="utf-8")
    _, warnings = describe_reranker(_retriever(ltr), _settings(tmp_path), dataset=other,
                                    dataset_sha256=file_sha256(other))
    assert warnings == []  # trained on another file: nothing to warn about


def test_learned_reranker_with_unknown_training_data_is_flagged(tmp_path: Path) -> None:
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("{}\n", encoding="utf-8")
    model_dir = tmp_path / "ltr"
    model_dir.mkdir()
    (model_dir / "model.json").write_text(json.dumps({"weights": [1, 2]}), encoding="utf-8")
    ltr = SimpleNamespace(name="ltr")
    _, warnings = describe_reranker(_retriever(ltr), _settings(tmp_path, ltr_model_path=model_dir),
                                    dataset=dataset, dataset_sha256="x")
    assert len(warnings) == 1 and "not recorded" in warnings[0]
    # ...and one whose artefact records the dataset in its "metadata" object is recognised.
    (model_dir / "model.json").write_text(json.dumps({"metadata": {"dataset": str(dataset)}}), encoding="utf-8")
    _, warnings = describe_reranker(_retriever(ltr), _settings(tmp_path, ltr_model_path=model_dir),
                                    dataset=dataset, dataset_sha256="x")
    assert len(warnings) == 1 and "fitted on d.jsonl" in warnings[0]
