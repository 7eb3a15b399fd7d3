"""Reading evaluation datasets (bad lines named precisely), run reports, and comparing two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.compare import compare_runs, comparison_text
from evals.datasets import load_exam_questions, load_retrieval_examples
from evals.report import Bar, load_run, write_run
from ipqa.errors import InputError


def _write(path: Path, *rows: object) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n",
                    encoding="utf-8")
    return path


def test_retrieval_examples(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl",
                  {"id": 1, "question": "谁可以成为个体工商户？", "gold": ["民法典第五十四条"], "answer": "可以。"},
                  "",
                  '{"id": 2, "question": "q2", "gold": [], "answer": NaN}')
    first, second = load_retrieval_examples(path)
    assert first.id == "1" and first.gold == ("民法典第五十四条",) and first.answer == "可以。"
    assert second.gold == () and second.answer is None  # NaN (pandas' missing value) is no answer
    assert len(load_retrieval_examples(path, limit=1)) == 1


@pytest.mark.parametrize("line, problem", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "JSON object"),
    ('{"id": 1, "question": "", "gold": []}', "'question'"),
    ('{"id": 1, "question": "q", "gold": "民法典第一条"}', "'gold'"),
])
def test_bad_retrieval_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    path = _write(tmp_path / "d.jsonl", {"id": 0, "question": "q", "gold": []}, line)
    with pytest.raises(InputError, match=problem) as info:
        load_retrieval_examples(path)
    assert info.value.source == f"{path}:2"


def test_missing_or_empty_dataset(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_retrieval_examples(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match="no questions"):
        load_retrieval_examples(_write(tmp_path / "empty.jsonl", ""))


def test_exam_questions(tmp_path: Path) -> None:
    path = _write(tmp_path / "exam.jsonl",
                  {"id": "s", "question": "q", "options": {"A": "a", "B": "b"}, "answer": "B", "multiple": False},
                  {"id": "m", "question": "q", "options": {"A": "a", "B": "b", "C": "c"}, "answer": "AC",
                   "multiple": True})
    single, multiple = load_exam_questions(path)
    assert single.answer == frozenset("B") and not single.multiple
    assert multiple.answer == frozenset("AC") and multiple.multiple
    bad = _write(tmp_path / "bad.jsonl",
                 {"id": "x", "question": "q", "options": {"A": "a", "B": "b"}, "answer": "E", "multiple": False})
    with pytest.raises(InputError, match="not a non-empty set of its options") as info:
        load_exam_questions(bad)
    assert info.value.source == f"{bad}:1"


@pytest.mark.shared
def test_real_datasets_load(shared_data: Path) -> None:
    stard = load_retrieval_examples(shared_data / "evals" / "stard-train.jsonl")
    assert len(stard) == 1235 and all(e.gold for e in stard)
    exam = load_exam_questions(shared_data / "evals" / "patent-agent-exam-2015-2016.jsonl")
    assert len(exam) == 200 and any(q.multiple for q in exam) and any(not q.multiple for q in exam)



# --- runs and their comparison ----------------------------------------------------------------------


def _run(directory: Path, *, recall10: float, found: dict[str, dict[str, int]], index: str = "v1") -> Path:
    result = {"kind": "retrieval",
              "run": {"command": "eval retrieval", "index_version": index, "dataset": {"path": "d", "sha256": "x"},
                      "git": {"commit": "abc", "dirty": False}, "settings": {"top_k": 10}},
              "summary": {"n": 2, "recall": {"10": recall10}, "mrr": 0.5, "seconds": 3.0},
              "questions": [{"id": qid, "found": f} for qid, f in found.items()]}
    return write_run(directory, result, "# report", chart_title="t", bars=[Bar("R@10", recall10)])


def test_write_run_and_compare(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", recall10=0.5, found={"1": {"g1": 3}, "2": {"g2": 1}})
    b = _run(tmp_path / "b", recall10=0.75, found={"1": {"g1": 3, "g3": 7}, "2": {"g2": 15}}, index="v2")
    for name in ("result.json", "report.md", "chart.png"):
        assert (a / name).stat().st_size > 0
    assert (a / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert "![t](chart.png)" in (a / "report.md").read_text(encoding="utf-8")

    comparison = compare_runs(load_run(a), load_run(b), k=10)
    deltas = {m.name: m.delta for m in comparison.metrics}
    assert deltas["recall@10"] == pytest.approx(0.25) and deltas["mrr"] == 0.0 and "seconds" not in deltas
    changes = {c.id: (c.gained, c.lost) for c in comparison.changes}
    assert changes == {"1": (("found g3",), ()), "2": ((), ("found g2",))}  # g2 fell to rank 15 > k
    assert any("index version" in note for note in comparison.notes)
    text = comparison_text(comparison)
    assert "+found g3" in text and "-found g2" in text and "+0.2500" in text


def test_compare_refuses_different_kinds_and_non_runs(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", recall10=0.5, found={})
    exam = load_run(a) | {"kind": "exam"}
    with pytest.raises(InputError, match="same evaluation"):
        compare_runs(load_run(a), exam)
    with pytest.raises(InputError, match="not an evaluation run"):
        load_run(tmp_path / "nothing-here")


def test_every_jsonl_reader_names_the_broken_line(tmp_path) -> None:
    """Evaluation sets, reranker and embedder training questions and SFT data share one reader."""
    from indexes.embedder_training import question_pairs
    from ipqa.jsonl import read_jsonl
    from rag.train import load_questions

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "gold": []}\n\n{broken\n', encoding="utf-8")
    assert next(read_jsonl(bad))[1:] == (1, {"question": "q", "gold": []})
    for read in (lambda: list(read_jsonl(bad)), lambda: question_pairs(bad),
                 lambda: load_questions(bad, None)):
        with pytest.raises(InputError, match=f"{bad}:3: not valid JSON"):
            read()
