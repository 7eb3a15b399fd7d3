"""`ipqa eval retrieval | answers | exam | compare` end to end through typer's CliRunner, over a tiny
index built from examples/corpus with the tiny test embedder; the exam also over the real 2015–2016
file with a tiny causal LM the test trains to always answer B (local backend) and with the extractive
backend (which abstains)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import pytest
from typer.testing import CliRunner

from ipqa.cli import build_app

RETRIEVAL_SET = [
    {"id": "ecommerce", "question": "电子商务平台经营者接到权利人的侵权通知后应当采取哪些必要措施？",
     "gold": ["示例知识产权保护条例第七条"],
     "answer": "平台经营者接到侵权通知后，应当及时采取删除、屏蔽、断开链接等必要措施。"},
    {"id": "fair", "question": "展会举办单位在展会期间应当设立知识产权投诉站吗？不设立会被罚款吗？",
     "gold": ["示例知识产权保护条例第六条", "示例知识产权保护条例第十二条"],
     "answer": "应当设立投诉站；未设立的，由有关部门责令改正，可以处一万元以上五万元以下的罚款。"},
    {"id": "missing", "question": "知识产权保护部门可以没收侵权产品吗？",
     "gold": ["示例知识产权保护条例第九十九条"], "answer": "条例没有规定。"},
]

EXAM_SET = [
    {"id": "e1", "question": "展会举办单位未设立知识产权投诉站的，可以处多少罚款？",
     "options": {"A": "一千元以下", "B": "一万元以上五万元以下", "C": "五十万元", "D": "不罚款"},
     "answer": "B", "multiple": False},
    {"id": "e2", "question": "电子商务平台经营者接到侵权通知后应当采取哪些措施？",
     "options": {"A": "删除", "B": "屏蔽", "C": "断开链接", "D": "起诉权利人"}, "answer": "ABC", "multiple": True},
]


def _jsonl(path: Path, rows: Sequence[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def _invoke(*args: str):
    return CliRunner().invoke(build_app(), ["eval", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory, tiny_embedder_dir: Path, examples_dir: Path
               ) -> Iterator[Path]:
    """IPQA_* pointing at a fresh index of examples/corpus, for the whole module."""
    data_dir = tmp_path_factory.mktemp("evals-var")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"IPQA_DATA_DIR": str(data_dir), "IPQA_EMBEDDER": str(tiny_embedder_dir),
                           "IPQA_INGEST_JOBS": "1", "IPQA_GENERATOR": "extractive",
                           "IPQA_RERANKER": "none"}.items():
            patch.setenv(key, value)
        built = CliRunner().invoke(build_app(), ["index", "rebuild", "--source", str(examples_dir)])
        assert built.exit_code == 0, built.output
        yield data_dir


def test_eval_retrieval_json_report_and_chart(tiny_index: Path, tmp_path: Path) -> None:
    dataset = _jsonl(tmp_path / "set.jsonl", RETRIEVAL_SET)
    out = tmp_path / "run"
    result = _invoke("retrieval", "--dataset", str(dataset), "--k", "1,5,10", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert set(figures) == {"dataset", "n", "recall", "mrr", "ndcg@10", "unresolved_gold", "index_version"}
    assert figures["n"] == 3 and set(figures["recall"]) == {"1", "5", "10"}
    assert figures["unresolved_gold"] == 1  # counted, not dropped
    # The unresolvable gold stays in the denominator: the "missing" question can never score.
    saved = json.loads((out / "result.json").read_text(encoding="utf-8"))
    by_id = {q["id"]: q for q in saved["questions"]}
    assert by_id["missing"]["recall"]["10"] == 0.0 and by_id["missing"]["unresolved"] == ["示例知识产权保护条例第九十九条"]
    assert "示例知识产权保护条例第九十九条" in saved["unresolved_gold"]
    # Every figure is the mean of the per-question figures.
    assert figures["recall"]["10"] == pytest.approx(sum(q["recall"]["10"] for q in saved["questions"]) / 3, abs=1e-4)
    assert figures["mrr"] == pytest.approx(sum(q["reciprocal_rank"] for q in saved["questions"]) / 3, abs=1e-4)
    # The tiny corpus has one statute: BM25 finds its article 7 for the e-commerce question.
    assert by_id["ecommerce"]["found"].get("示例知识产权保护条例第七条", 99) <= 10
    assert saved["run"]["index_version"] == figures["index_version"] and saved["run"]["reranker"] == "none"
    assert saved["run"]["git"]["commit"] and "openai_api_key" not in saved["run"]["settings"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "any version" in report and "示例知识产权保护条例第九十九条" in report and "chart.png" in report
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_retrieval_compare_two_runs(tiny_index: Path, tmp_path: Path) -> None:
    dataset = _jsonl(tmp_path / "set.jsonl", RETRIEVAL_SET)
    first = _invoke("retrieval", "--dataset", str(dataset), "--k", "1,10", "--out", str(tmp_path / "a"))
    assert first.exit_code == 0, first.output
    assert "R@1=" in first.stdout and "report:" in first.stdout
    second = _invoke("retrieval", "--dataset", str(dataset), "--k", "1,10", "--limit", "1", "--out",
                     str(tmp_path / "b"))
    assert second.exit_code == 0, second.output
    compared = _invoke("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    assert compared.exit_code == 0, compared.output
    comparison = json.loads(compared.stdout)
    assert comparison["kind"] == "retrieval" and "recall@10" in comparison["metrics"]
    assert comparison["only_in_a"] == ["fair", "missing"]
    text = _invoke("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert "recall@10" in text.stdout and "only in A: 2" in text.stdout


def test_eval_answers_with_the_extractive_generator(tiny_index: Path, tmp_path: Path, tiny_embedder_dir: Path
                                                   ) -> None:
    dataset = _jsonl(tmp_path / "set.jsonl", RETRIEVAL_SET)
    out = tmp_path / "answers"
    result = _invoke("answers", "--dataset", str(dataset), "--out", str(out), "--json",
                     "--bertscore-model", str(tiny_embedder_dir))
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    for key in ("citation_precision", "citation_recall", "fabricated_rate", "abstention_rate", "rouge_l"):
        assert key in figures
    assert figures["bertscore_f1"] is not None and 0.0 < figures["bertscore_f1"] <= 1.0
    assert figures["n"] == 3 and figures["generator"] == "extractive" and figures["judge"] == "lexical"
    saved = json.loads((out / "result.json").read_text(encoding="utf-8"))
    delivered = [q for q in saved["questions"] if not q["abstained"]]
    assert figures["abstention_rate"] == pytest.approx(1 - len(delivered) / 3, abs=1e-4)
    # The extractive generator quotes provisions verbatim: nothing it cites can be fabricated.
    assert figures["fabricated_rate"] == 0.0
    for q in delivered:
        assert q["citations"] >= 1 and 0.0 <= q["rouge_l"] <= 1.0 and q["bertscore_f1"] is not None
    assert (out / "chart.png").is_file() and "ALCE" in (out / "report.md").read_text(encoding="utf-8")


def test_eval_exam_rag_mode_with_extractive_abstains(tiny_index: Path, tmp_path: Path) -> None:
    dataset = _jsonl(tmp_path / "exam.jsonl", EXAM_SET)
    result = _invoke("exam", "--dataset", str(dataset), "--mode", "rag", "--out", str(tmp_path / "x"), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures == {"dataset": str(dataset), "n": 2, "answered": 0, "accuracy_single": None,
                       "accuracy_multiple": None, "partial_credit": None, "mode": "rag", "generator": "extractive"}
    assert "cannot choose" in (tmp_path / "x" / "report.md").read_text(encoding="utf-8")


def test_eval_bad_input_is_a_clean_error(tiny_index: Path, tmp_path: Path) -> None:
    app = build_app()
    bad_mode = CliRunner().invoke(app, ["eval", "exam", "--dataset", str(tmp_path / "x.jsonl"), "--mode", "open"])
    assert bad_mode.exit_code != 0 and "--mode" in str(bad_mode.exception)
    bad_k = CliRunner().invoke(app, ["eval", "retrieval", "--dataset", str(tmp_path / "x.jsonl"), "--k", "0,5"])
    assert bad_k.exit_code != 0 and "--k" in str(bad_k.exception)


# --- the real exam file ----------------------------------------------------------------------------------


def build_tiny_causal_lm(directory: Path, prompts: Sequence[str], reply: str) -> Path:
    """A one-layer GPT-2 with a byte-level BPE vocabulary, trained until it answers ``reply`` to the
    given prompts (so a test can predict what the local backend answers)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator([*prompts, reply], trainers.BpeTrainer(
        vocab_size=2000, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(fast), n_positions=2048, n_layer=1, n_head=2, n_embd=32,
                                       eos_token_id=fast.eos_token_id, bos_token_id=fast.eos_token_id))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    reply_ids = fast(reply, add_special_tokens=False)["input_ids"] + [fast.eos_token_id]
    examples = []
    for prompt in prompts:
        prompt_ids = fast(prompt, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([prompt_ids + reply_ids])
        labels = ids.clone()
        labels[0, :len(prompt_ids)] = -100  # learn the reply only
        examples.append((ids, labels))
    for _ in range(200):
        losses = []
        for ids, labels in examples:
            loss = model(input_ids=ids, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if max(losses) < 0.02:
            break
    model.save_pretrained(directory)
    return directory


@pytest.mark.shared
@pytest.mark.slow
def test_exam_file_with_tiny_local_model_and_extractive(shared_data: Path, tmp_path: Path, monkeypatch) -> None:
    from evals.datasets import load_exam_questions
    from evals.exam import exam_prompt

    exam_file = shared_data / "evals" / "patent-agent-exam-2015-2016.jsonl"
    questions = load_exam_questions(exam_file)
    # The local backend renders "system\n\nuser\n" for a tokenizer without a chat template.
    prompts = [f"{p.system}\n\n{p.user}\n" for p in (exam_prompt(q) for q in questions[:4])]
    model_dir = build_tiny_causal_lm(tmp_path / "tiny-lm", prompts, "答案：B")
    monkeypatch.setenv("IPQA_DATA_DIR", str(tmp_path / "var"))  # closed book: no index needed
    monkeypatch.setenv("IPQA_LLM_PATH", str(model_dir))
    monkeypatch.setenv("IPQA_MAX_NEW_TOKENS", "8")
    monkeypatch.setenv("IPQA_EMBED_DEVICE", "cpu")

    local = _invoke("exam", "--dataset", str(exam_file), "--mode", "closed", "--generator", "local",
                    "--out", str(tmp_path / "local"), "--json")
    assert local.exit_code == 0, local.output
    figures = json.loads(local.stdout)
    single = [q for q in questions if not q.multiple]
    multiple = [q for q in questions if q.multiple]
    # The model always answers B, so the expected figures follow from the answer key alone.
    assert figures["n"] == 200 and figures["answered"] == 200 and figures["generator"] == "local"
    assert figures["accuracy_single"] == pytest.approx(
        round(sum(q.answer == {"B"} for q in single) / len(single), 4))
    assert figures["accuracy_multiple"] == 0.0  # {B} never equals a multiple answer
    expected_partial = (sum(q.answer == {"B"} for q in single)
                        + sum(1 / len(q.answer) for q in multiple if "B" in q.answer)) / len(questions)
    assert figures["partial_credit"] == pytest.approx(round(expected_partial, 4))

    extractive = _invoke("exam", "--dataset", str(exam_file), "--mode", "closed", "--generator", "extractive",
                         "--out", str(tmp_path / "extractive"), "--json")
    assert extractive.exit_code == 0, extractive.output
    figures = json.loads(extractive.stdout)
    assert figures["answered"] == 0 and figures["accuracy_single"] is None and figures["n"] == 200

    compared = _invoke("compare", str(tmp_path / "extractive"), str(tmp_path / "local"), "--json")
    gained = json.loads(compared.stdout)["gained"]
    assert gained == sum(q.answer == {"B"} for q in questions)
