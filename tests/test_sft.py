"""`ipqa sft`: training data, its checks, LoRA training and evaluation with the adapter.

The end-to-end test builds data over a tiny index of examples/corpus with a shared-data directory of
its own (a few STARD-format questions, exam questions, and an evaluation set with a planted copy of
one training question), trains a tiny random GPT-2 (tokenizer trained on the fly) for a few steps,
loads the adapter in the `local` generator and runs `ipqa eval exam` and `ipqa eval answers` with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from typer.testing import CliRunner

from ipqa.cli import build_app
from ipqa.errors import InputError
from sft.leakage import THRESHOLD, LeakageGuard, normalise
from sft.records import FORMAT, check_data_dir, read_examples

LAW = "示例知识产权保护条例"

STARD = [
    {"id": 1, "question": "我在网店卖的东西被人投诉侵权了，平台接到通知后会怎么处理？",
     "gold": [f"{LAW}第七条"],
     "answer": "电子商务平台经营者接到权利人发出的侵权通知后，应当及时采取删除、屏蔽、断开链接等必要措施。"
               "平台内经营者可以向平台提交不存在侵权行为的声明。"},
    {"id": 2, "question": "展会上发现有人卖仿冒我专利的产品，可以向谁投诉？",
     "gold": [f"{LAW}第六条"],
     "answer": "展会举办单位应当在展会期间设立知识产权投诉站，您可以向投诉站投诉。"},
    {"id": 3, "question": "某公司多次侵犯他人商标被处罚，会被列入什么名单？",
     "gold": [f"{LAW}第十条之一"],
     "answer": "五年内因侵犯知识产权受到行政处罚两次以上的，知识产权保护部门应当将其列入重点监管名单。"},
    {"id": 4, "question": "甲公司的展会没有设立知识产权投诉站，被有关部门查处，法院会怎么判？",
     "gold": [f"{LAW}第十二条"],
     "answer": "展会举办单位未设立知识产权投诉站的，由有关部门责令改正，可以处一万元以上五万元以下的罚款。"},
    {"id": 5, "question": "权利人请求处理侵权纠纷时能不能同时要求调解赔偿数额？",
     "gold": [f"{LAW}第十条"],
     "answer": "可以。权利人请求处理侵权纠纷时，可以同时请求知识产权保护部门就赔偿数额进行调解。"},
]
PLANTED = STARD[4]["question"]  # its copy, reworded at the edges, is an evaluation question below

EXAM = [
    {"id": f"x-{n}", "year": 2015, "question": question, "options": options, "answer": answer,
     "multiple": len(answer) > 1}
    for n, (question, options, answer) in enumerate([
        ("展会举办单位未设立知识产权投诉站的，可以处多少罚款？",
         {"A": "一千元以下", "B": "一万元以上五万元以下", "C": "五十万元", "D": "不罚款"}, "B"),
        ("电子商务平台经营者接到侵权通知后应当采取哪些措施？",
         {"A": "删除", "B": "屏蔽", "C": "断开链接", "D": "起诉权利人"}, "ABC"),
        ("当事人不服处理决定的，可以自收到处理通知之日起多少日内起诉？",
         {"A": "七日", "B": "十日", "C": "十五日", "D": "三十日"}, "C"),
        ("本条例自何时起施行？", {"A": "2023年1月1日", "B": "2024年1月1日", "C": "2025年1月1日", "D": "公布之日"}, "B"),
        ("知识产权保护部门处理专利侵权纠纷认定侵权成立的，可以采取什么措施？",
         {"A": "责令立即停止侵权行为", "B": "判处刑罚", "C": "吊销营业执照", "D": "没收房产"}, "A"),
        ("投诉人应当提交哪些材料？", {"A": "权利证明", "B": "被投诉人信息", "C": "初步侵权证据", "D": "完税证明"}, "ABC"),
        ("知识产权保护坚持什么原则？", {"A": "严格保护", "B": "统筹协调", "C": "重点突破", "D": "区别保护"}, "ABC"),
        ("市、区人民政府应当将知识产权保护工作纳入什么规划？",
         {"A": "国民经济和社会发展规划", "B": "城市规划", "C": "土地规划", "D": "教育规划"}, "A"),
    ])
]

DEV = [{"id": "dev-planted", "question": "权利人请求处理侵权纠纷时，能不能同时要求调解赔偿数额呢？",
        "gold": [f"{LAW}第十条"], "answer": "可以。"},
       {"id": "dev-other", "question": "知识产权保护部门是哪个部门？", "gold": [f"{LAW}第二条"], "answer": "市、区人民政府确定的部门。"}]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def _invoke(*args: str):
    return CliRunner().invoke(build_app(), list(args), catch_exceptions=False)


# --- the leakage check ---------------------------------------------------------------------------


def test_leakage_refuses_copies_and_light_edits_but_not_other_questions():
    guard = LeakageGuard()
    guard.add("ip-qa-dev", "q1", "发明专利和实用新型专利在“创造性”上的门槛有什么不同？审查时拿什么作比较对象？")
    guard.add("ip-qa-dev", "q2", "What is the term of a US utility patent, and from when is it measured?")
    # a copy with its punctuation, width and spacing changed
    assert guard.overlap("发明专利和实用新型专利在创造性上的门槛有什么不同 审查时拿什么作比较对象").evaluation_id == "q1"
    # a clause added to the front and one dropped: still most of its 5-grams
    hit = guard.overlap("请问发明专利和实用新型专利在“创造性”上的门槛有什么不同？")
    assert hit is not None and hit.evaluation_id == "q1" and hit.containment >= THRESHOLD
    assert guard.overlap("WHAT is the term of a U.S. utility patent and from when is it measured").evaluation_id == "q2"
    # the same topic in other words is not leakage
    assert guard.overlap("实用新型的创造性标准比发明低吗？") is None
    assert guard.overlap("How long does a design patent last?") is None


def test_normalise_ignores_punctuation_width_and_case():
    assert normalise("ＡＢＣ，专利 法？") == normalise("abc专利法")


# --- bad input -----------------------------------------------------------------------------------


def test_directions_refuse_an_empty_or_unknown_name():
    from sft.directions import parse_directions

    assert parse_directions("doctrine, exam") == ("doctrine", "exam")
    with pytest.raises(InputError, match="--directions.*empty direction"):
        parse_directions("doctrine,,exam")
    with pytest.raises(InputError, match="--directions.*empty direction"):
        parse_directions("")
    with pytest.raises(InputError, match="unknown direction 'essays'"):
        parse_directions("doctrine,essays")


def test_data_of_another_format_version_is_refused_naming_the_file(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"format": "ipqa-sft/0", "id": "x"}) + "\n", encoding="utf-8")
    (tmp_path / "stats.json").write_text(json.dumps({"format": "ipqa-sft/0"}), encoding="utf-8")
    with pytest.raises(InputError, match=r"stats\.json: format 'ipqa-sft/0' is not 'ipqa-sft/1'"):
        check_data_dir(tmp_path)
    with pytest.raises(InputError, match=r"train\.jsonl:1: format 'ipqa-sft/0'"):
        list(read_examples(tmp_path / "train.jsonl"))
    with pytest.raises(InputError, match="train.jsonl: is not a directory of training data"):
        check_data_dir(tmp_path / "train.jsonl")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not written by `ipqa sft build`"):
        check_data_dir(empty)


def test_a_base_model_that_is_not_a_causal_lm_is_refused(tiny_embedder_dir, tmp_path):
    from sft.train import check_base

    backbone = tiny_embedder_dir.parent / f"{tiny_embedder_dir.name}-backbone"  # a BERT encoder
    with pytest.raises(InputError, match=r"--base .*backbone: is not a causal language model .*BertModel"):
        check_base(backbone)
    with pytest.raises(InputError, match="--base .*: is not a model directory"):
        check_base(tmp_path / "missing")
    with pytest.raises(InputError, match="--base .*: has no readable model config"):
        check_base(tmp_path)


# --- statute structure ---------------------------------------------------------------------------


def test_rules_read_from_an_article_quote_it_verbatim():
    from sft.directions.statute_rules import Definition, ItemList, Liability, TimeLimit, read_rules

    article = ("有下列情形之一的，不视为侵犯专利权：\n（一）专为科学研究和实验而使用有关专利的；\n"
               "（二）临时通过中国领陆的外国运输工具使用有关专利的。\n"
               "本法所称现有技术，是指申请日以前在国内外为公众所知的技术。\n"
               "当事人不服的，可以自收到通知之日起三个月内向人民法院起诉。\n"
               "假冒专利的，由负责专利执法的部门责令改正，可以处违法所得五倍以下的罚款。\n"
               "情节严重的，依法追究刑事责任。")
    rules = read_rules(article)
    kinds = [type(r) for r in rules]
    assert kinds == [ItemList, Definition, TimeLimit, Liability]  # 情节严重的 needs its context: skipped
    exceptions, definition, deadline, liability = rules
    assert exceptions.tail == "不视为侵犯专利权" and len(exceptions.items) == 2
    assert definition.term == "现有技术"
    assert deadline.question == "当事人不服的，可以自收到通知之日起多长时间内向人民法院起诉"
    assert liability.condition == "假冒专利的"
    for quoted in (exceptions.lead, *exceptions.items, definition.sentence, deadline.sentence, liability.sentence):
        assert quoted in article


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sft_env(tmp_path_factory, tiny_embedder_dir, examples_dir) -> Iterator[dict]:
    """IPQA_* pointing at an index of examples/corpus and a shared-data directory of small sets."""
    root = tmp_path_factory.mktemp("sft")
    shared = root / "shared"
    _jsonl(shared / "evals" / "stard-train.jsonl", STARD)
    _jsonl(shared / "evals" / "patent-agent-exam-2015-2016.jsonl", EXAM)
    _jsonl(shared / "evals" / "ip-qa-dev.jsonl", DEV)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"IPQA_DATA_DIR": str(root / "var"), "IPQA_EMBEDDER": str(tiny_embedder_dir),
                           "IPQA_SHARED_DATA": str(shared), "IPQA_INGEST_JOBS": "1", "IPQA_RERANKER": "none",
                           "IPQA_GENERATOR": "extractive", "IPQA_EMBED_DEVICE": "cpu"}.items():
            patch.setenv(key, value)
        built = _invoke("index", "rebuild", "--source", str(examples_dir))
        assert built.exit_code == 0, built.output
        yield {"root": root, "shared": shared}


@pytest.fixture(scope="module")
def built_data(sft_env) -> tuple[Path, dict]:
    out = sft_env["root"] / "data"
    result = _invoke("sft", "build", "--out", str(out), "--sources", "3", "--validation", "0.3", "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_build_keeps_verified_examples_in_every_direction_and_counts_drops(built_data, sft_env):
    out, figures = built_data
    assert set(figures) == {"examples", "by_direction", "dropped", "citations_checked", "train", "validation"}
    assert set(figures["by_direction"]) == {"doctrine", "conduct", "case", "drafting", "exam"}
    assert all(n >= 1 for n in figures["by_direction"].values()), figures
    assert figures["train"] + figures["validation"] == figures["examples"] == sum(figures["by_direction"].values())
    assert figures["dropped"].get("leakage", 0) >= 1  # the planted copy of an ip-qa-dev question
    stats = check_data_dir(out)
    assert stats["format"] == FORMAT and stats["citations_verified"] == stats["citations_checked"] > 0
    assert stats["exam_heldout"] == 2 and stats["leakage"]["threshold"] == THRESHOLD
    examples = list(read_examples(out / "train.jsonl")) + list(read_examples(out / "validation.jsonl"))
    assert PLANTED not in {e.question for e in examples}
    origins = {(e.direction, e.origin.get("kind")) for e in examples}
    assert {("case", "judgment"), ("case", "stard"), ("conduct", "stard"), ("doctrine", "timelimit"),
            ("drafting", "independent_claim"), ("drafting", "dependent_claim"), ("drafting", "figure")} <= origins
    heldout = [json.loads(line) for line in (out / "exam-heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["question"] for r in heldout}.isdisjoint(e.question for e in examples)
    # each kept answer, re-checked independently: every citation verified, every cited statement supported
    from indexes.snapshot import open_snapshot
    from ipqa.settings import Settings
    from rag.judges import LexicalJudge
    from rag.verify import CitationVerifier, law_titles_in_store

    snapshot = open_snapshot(Settings().index_root, embedder=None)
    try:
        verifier = CitationVerifier(snapshot.store, LexicalJudge(), known_laws=law_titles_in_store(snapshot.store))
        for example in examples:
            assert example.messages[1].content.startswith(("来源:", "Sources:", "参考法条"))
            chunks = snapshot.store.chunks(example.source_ids)
            assert [c.citation for c in chunks] == list(example.sources)
            if example.direction == "exam":
                assert example.messages[2].content.startswith("答案：")
                continue
            from ipqa.domain import Hit

            hits = [Hit(chunk=chunk, score=1.0) for chunk in chunks]
            verification = verifier.verify(example.messages[2].content, hits)
            assert verification.citations and all(c.verified for c in verification.citations), example.id
            assert all(s.supported for s in verification.statements if s.citation_numbers)
    finally:
        snapshot.close()


def test_build_is_reproducible(built_data, sft_env):
    out, figures = built_data
    again = sft_env["root"] / "again"
    result = _invoke("sft", "build", "--out", str(again), "--sources", "3", "--validation", "0.3", "--json")
    assert json.loads(result.stdout) == figures
    assert (again / "train.jsonl").read_bytes() == (out / "train.jsonl").read_bytes()


def test_a_direction_that_yields_nothing_is_an_error_naming_it(sft_env, tmp_path):
    # every exam question is also in an evaluation set, so the leakage check refuses them all
    leaked = _jsonl(tmp_path / "exam-copy.jsonl", EXAM)
    with pytest.raises(InputError, match=r"--directions exam: produced no example .*'leakage': 6"):
        build_app()(["sft", "build", "--out", str(tmp_path / "out"), "--directions", "exam",
                     "--eval-set", str(leaked)], standalone_mode=False)
    assert not (tmp_path / "out" / "train.jsonl").exists()  # nothing half-written


def _texts(data: Path) -> list[str]:
    return [m.content for name in ("train.jsonl", "validation.jsonl") for e in read_examples(data / name)
            for m in e.messages]


@pytest.fixture(scope="module")
def tiny_base(built_data, sft_env) -> Path:
    """A random 1-layer GPT-2 whose tokenizer is trained on the built data."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from tiny_models import build_tiny_causal_lm

    # prompts of five sources run to a few thousand tokens: more positions than the default 1,024
    return build_tiny_causal_lm(sft_env["root"] / "base", texts=_texts(built_data[0]), n_positions=4096)


def test_encoding_trains_on_the_answer_only_and_ends_it_with_eos(built_data, tiny_base):
    from transformers import AutoTokenizer

    from rag.generators.local_hf import render_chat
    from sft.train import IGNORE, encode

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    example = next(read_examples(built_data[0] / "train.jsonl"))
    row = encode(tokenizer, example, max_length=100_000)
    prompt = render_chat(tokenizer, example.messages[0].content, example.messages[1].content)
    n_prompt = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert row["input_ids"][:n_prompt] == tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert row["labels"][:n_prompt] == [IGNORE] * n_prompt  # no loss on the prompt
    answer = row["labels"][n_prompt:]
    assert IGNORE not in answer and answer[-1] == tokenizer.eos_token_id
    assert example.messages[2].content in tokenizer.decode(answer)
    assert encode(tokenizer, example, max_length=n_prompt) is None  # too long: left out, not cut


def test_train_lowers_the_loss_and_the_adapter_serves_the_evals(built_data, sft_env, tiny_base):
    from peft import PeftModel

    data, _ = built_data
    root = sft_env["root"]
    base = tiny_base
    adapter = root / "adapter"
    result = _invoke("sft", "train", "--base", str(base), "--data", str(data), "--out", str(adapter),
                     "--max-steps", "6", "--gradient-accumulation", "1", "--learning-rate", "0.01",
                     "--lora-r", "8", "--eval-steps", "100", "--save-steps", "3", "--max-length", "4096", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 6 and report["device"] == "cpu" and report["bf16"] is False
    assert report["eval_loss_after"] < report["eval_loss_before"], report
    assert (adapter / "adapter_config.json").is_file() and (adapter / "checkpoints" / "checkpoint-6").is_dir()

    from rag.generators.local_hf import LocalHfGenerator

    model, _ = LocalHfGenerator(base, lora_path=adapter, device="cpu").load()
    assert isinstance(model, PeftModel)

    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"IPQA_GENERATOR": "local", "IPQA_LLM_PATH": str(base), "IPQA_LORA_PATH": str(adapter),
                           "IPQA_MAX_NEW_TOKENS": "8"}.items():
            patch.setenv(key, value)
        exam = _invoke("eval", "exam", "--dataset", str(data / "exam-heldout.jsonl"), "--out", str(root / "exam"),
                       "--json")
        assert exam.exit_code == 0, exam.output
        assert json.loads(exam.stdout)["generator"] == "local" and json.loads(exam.stdout)["n"] == 2
        answers = _invoke("eval", "answers", "--dataset", str(sft_env["shared"] / "evals" / "ip-qa-dev.jsonl"),
                          "--out", str(root / "answers"), "--json")
        assert answers.exit_code == 0, answers.output
        assert json.loads(answers.stdout)["generator"] == "local"
    saved = json.loads((root / "exam" / "result.json").read_text(encoding="utf-8"))
    assert saved["run"]["settings"]["lora_path"] == str(adapter)
    # the base model on the same questions, then the comparison of the two runs
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"IPQA_GENERATOR": "local", "IPQA_LLM_PATH": str(base), "IPQA_MAX_NEW_TOKENS": "8"}.items():
            patch.setenv(key, value)
        patch.delenv("IPQA_LORA_PATH", raising=False)
        plain = _invoke("eval", "exam", "--dataset", str(data / "exam-heldout.jsonl"), "--out", str(root / "exam-base"))
        assert plain.exit_code == 0, plain.output
    compared = _invoke("eval", "compare", str(root / "exam-base"), str(root / "exam"), "--json")
    assert compared.exit_code == 0, compared.output
    assert json.loads(compared.stdout)["kind"] == "exam"


class _CannedTeacherModel:
    """Stands in for the OpenAI-compatible endpoint: answers every prompt with ``text``."""

    name = "openai"

    def __init__(self, text: str) -> None:
        self.text = text
        self.prompts = []

    def generate(self, prompt) -> str:
        self.prompts.append(prompt)
        return self.text


def test_teacher_answers_are_kept_only_when_their_citations_verify(sft_env):
    from indexes.snapshot import open_snapshot
    from ipqa.domain import QuestionType
    from ipqa.settings import Settings
    from rag.judges import LexicalJudge
    from rag.verify import CitationVerifier, law_titles_in_store
    from sft.assemble import Assembler, Dropped
    from sft.candidates import Candidate, ExamItem
    from sft.teacher import Teacher

    snapshot = open_snapshot(Settings().index_root, embedder=None)
    try:
        store = snapshot.store
        article = next(c for d in store.documents(limit=50) if d.kind == "statute"
                       for c in store.chunks_of_document(d.id) if c.citation.endswith("第七条"))
        verifier = CitationVerifier(store, LexicalJudge(), known_laws=law_titles_in_store(store))
        assembler = Assembler(lambda q, k, f: snapshot.search_bm25(q, k, f), verifier, sources=3)
        candidate = Candidate("conduct", "平台接到侵权通知后应当怎么做？", QuestionType.CONDUCT, (article,), "", {},
                              language="zh")
        hits, numbers = assembler.layout(candidate)
        n = numbers[0]
        good = Teacher(_CannedTeacherModel(f"平台经营者接到侵权通知后，应当及时采取删除、屏蔽、断开链接等必要措施。[{n}]"))
        kept = assembler.assemble(candidate, good)
        assert not isinstance(kept, Dropped), kept
        assert kept.messages[2].content.endswith(f"[{n}]") and kept.citations_checked == 1
        assert good.generator.prompts[0].user == kept.messages[1].content  # it answered the example's prompt
        fabricated = Teacher(_CannedTeacherModel("平台应当立即起诉权利人。[9]"))
        assert assembler.assemble(candidate, fabricated) == Dropped("citation_unresolved", "[9]")
        unsupported = Teacher(_CannedTeacherModel(f"著作权的保护期为作者终生及其死亡后五十年。[{n}]"))
        assert assembler.assemble(candidate, unsupported).reason == "citation_unsupported"
        exam = ExamItem("e", "接到侵权通知后应当采取哪些措施？", {"A": "删除", "B": "起诉"}, "A", False)
        exam_candidate = Candidate("exam", exam.question, QuestionType.DOCTRINE, (), "答案：A", {}, exam=exam)
        assert not isinstance(assembler.assemble(exam_candidate, Teacher(_CannedTeacherModel("分析……\n答案：A"))),
                              Dropped)
        wrong = assembler.assemble(exam_candidate, Teacher(_CannedTeacherModel("答案：B")))
        assert wrong == Dropped("teacher_wrong_choice")
    finally:
        snapshot.close()


@pytest.mark.slow  # two training runs with evaluations: ~20-40 s on the shared machine
def test_training_resumes_from_its_checkpoint_and_merges(built_data, tiny_base, tmp_path):
    from transformers import AutoModelForCausalLM

    data, _ = built_data
    common = ["sft", "train", "--base", str(tiny_base), "--data", str(data), "--out", str(tmp_path / "a"),
              "--gradient-accumulation", "1", "--save-steps", "2", "--eval-steps", "100", "--json"]
    first = _invoke(*common, "--max-steps", "2")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["resumed"] is False
    second = _invoke(*common, "--max-steps", "4", "--resume", "--merge")
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert report["resumed"] is True and report["steps"] == 4
    merged = AutoModelForCausalLM.from_pretrained(report["merged"])  # a plain model: no adapter needed
    assert not hasattr(merged, "peft_config")


def test_training_refuses_a_data_directory_of_another_format(tiny_base, tmp_path):
    (tmp_path / "train.jsonl").write_text("{}\n", encoding="utf-8")
    (tmp_path / "stats.json").write_text(json.dumps({"format": "ipqa-sft/0"}), encoding="utf-8")
    result = CliRunner().invoke(build_app(), ["sft", "train", "--base", str(tiny_base), "--data", str(tmp_path),
                                              "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError) and "stats.json: format 'ipqa-sft/0'" in str(result.exception)
