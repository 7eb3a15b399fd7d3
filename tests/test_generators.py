"""Generator backends: extractive (no model), local transformers model (+ LoRA), OpenAI-compatible HTTP.

The local backend runs a tiny GPT-2 that the test builds and trains for a few seconds to say a
canned answer; the OpenAI backend talks to a real HTTP server on localhost speaking the
chat-completions protocol with SSE streaming. Both go through the whole answering path (prompt,
streamed tokens, citation parsing and verification), with a fabricated citation and an unsupported
sentence planted in the canned answer.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from chat_server import ChatCompletions, serve_chat_completions
from rag_fixtures import FixedRetriever, LookupStore, corpus, hits

from ipqa.domain import Answer, QuestionType
from ipqa.errors import ConfigError
from rag.generators import GeneratorError, GeneratorOptions, create_generator
from rag.generators.extractive import ExtractiveGenerator
from rag.judges import LexicalJudge
from rag.pipeline import Answerer
from rag.prompts import build_prompt

SOURCES = ("专利法 第十一条", "专利法 第七十五条", "35 U.S.C. § 271")
QUESTION = "为科学研究使用他人专利是否构成侵权？"
# A supported sentence, a fabricated statute, an unsupported sentence, a marker beyond the sources.
CANNED = (
    "专为科学研究和实验而使用有关专利的，不视为侵犯专利权[2]。"
    "专利法第九百条规定科研免责[2]。"
    "Patents last forever [3]. 另见[7]。"
)


def check_canned_answer(answer: Answer) -> None:
    """The verification every backend's canned answer must get."""
    assert answer.text.strip() == CANNED
    by_number = {c.number: c for c in answer.citations}
    assert by_number[2].verified and by_number[2].quoted_span == "（四）专为科学研究和实验而使用有关专利的；"
    assert by_number[3].problem == "unsupported" and not by_number[3].verified
    assert by_number[7].problem == "unresolved" and not by_number[7].verified
    fabricated = [c for c in answer.citations if c.citation == "专利法第九百条"]
    assert fabricated and fabricated[0].problem == "unresolved" and fabricated[0].number > len(SOURCES)
    supported = {s.text: s.supported for s in answer.statements}
    assert supported == {
        "专为科学研究和实验而使用有关专利的，不视为侵犯专利权[2]。": True,
        "专利法第九百条规定科研免责[2]。": False,
        "Patents last forever [3].": False,
        "另见[7]。": False,
    }
    assert not answer.abstained  # one citation survived verification
    assert answer.timings["generate_ms"] >= 0 and "first_token_ms" in answer.timings


def answerer_with(generator) -> Answerer:
    return Answerer(FixedRetriever(hits(*SOURCES)), generator, LexicalJudge(), LookupStore())


def run_streamed(answerer: Answerer) -> tuple[list[str], Answer]:
    items = list(answerer.stream_answer(QUESTION, question_type="conduct"))
    assert isinstance(items[-1], Answer) and all(isinstance(i, str) for i in items[:-1])
    return items[:-1], items[-1]


# --- registry ------------------------------------------------------------------------------------


def test_registry_names_the_valid_backends_and_required_settings():
    with pytest.raises(ConfigError, match="valid names: extractive, local, openai"):
        create_generator("gpt-5")
    with pytest.raises(ConfigError, match="IPQA_LLM_PATH"):
        create_generator("local")
    with pytest.raises(ConfigError, match="IPQA_OPENAI_BASE_URL"):
        create_generator("openai")
    with pytest.raises(ConfigError, match="max_new_tokens"):
        GeneratorOptions(max_new_tokens=0)
    assert create_generator("extractive").name == "extractive"


def test_local_backend_refuses_a_missing_model_directory(tmp_path):
    with pytest.raises(ConfigError, match="not a model directory"):
        create_generator("local", GeneratorOptions(llm_path=tmp_path / "missing"))


# --- extractive ----------------------------------------------------------------------------------


def test_extractive_conduct_answer_quotes_verbatim_and_separates_exceptions():
    sources = hits(*SOURCES)
    prompt = build_prompt(QUESTION, QuestionType.CONDUCT, sources)
    text = ExtractiveGenerator().generate(prompt)
    assert "未配置生成式模型" in text and "不作法律结论" in text
    applicable, exceptions = text.index("适用条款："), text.index("例外与抗辩：")
    assert applicable < text.index("专利法 第十一条") < exceptions < text.index("专利法 第七十五条")
    assert "「（四）专为科学研究和实验而使用有关专利的；」[2]" in text
    assert "「有下列情形之一的，不视为侵犯专利权：」" in text  # the lead-in of an enumerating article
    for line in text.splitlines():
        if line.startswith("- "):
            number = int(line.rsplit("[", 1)[1].rstrip("]"))
            for quoted in line.split("「")[1:]:
                assert quoted.split("」")[0] in sources[number - 1].chunk.text


def test_extractive_answer_verifies_with_the_item_not_the_lead_in_as_span():
    answer = answerer_with(ExtractiveGenerator()).answer(QUESTION, question_type="conduct")
    by_citation = {c.citation: c for c in answer.citations}
    assert by_citation["专利法 第七十五条"].quoted_span == "（四）专为科学研究和实验而使用有关专利的；"
    assert all(c.verified for c in answer.citations) and not answer.abstained


def test_extractive_english_doctrine_answer_and_full_verification():
    answer = answerer_with(ExtractiveGenerator()).answer(
        "What is the safe harbor for uses reasonably related to FDA submissions?", question_type="doctrine"
    )
    assert "No generative model is configured" in answer.text
    assert "Definition and rule:" in answer.text
    assert not answer.abstained and answer.citations
    for cite in answer.citations:
        chunk = next(c for p in corpus() for c in p.chunks if c.id == cite.chunk_id)
        assert cite.verified and cite.quoted_span in chunk.text
    assert any(c.citation == "35 U.S.C. § 271" for c in answer.citations)


def test_extractive_answer_abstains_when_no_source_is_relevant():
    answer = answerer_with(ExtractiveGenerator()).answer("How do I bake sourdough bread?")
    assert answer.abstained and "cites no source" in answer.abstain_reason
    assert "None of the retrieved sources" in answer.text


def test_extractive_streams_line_by_line():
    pieces, answer = run_streamed(answerer_with(ExtractiveGenerator()))
    assert len(pieces) > 3 and "".join(pieces) == answer.text


# --- local transformers model --------------------------------------------------------------------


@contextmanager
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a 1-layer model gains nothing from threads on a shared 2-core machine
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A 1-layer GPT-2 with a BPE tokenizer trained on the fly and a chat template, trained until it
    says CANNED after the rendered prompt (greedy decoding then reproduces it)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from rag.generators.local_hf import LocalHfGenerator

    directory = tmp_path_factory.mktemp("tiny-lm")
    prompt = build_prompt(QUESTION, QuestionType.CONDUCT, hits(*SOURCES))
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        [prompt.system, prompt.user, CANNED],
        trainers.BpeTrainer(
            vocab_size=1500,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    tokenizer.save_pretrained(directory)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=1024,
        n_layer=1,
        n_head=2,
        n_embd=64,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = GPT2LMHeadModel(config)
    rendered = LocalHfGenerator(directory, device="cpu")  # only for render(): needs the tokenizer
    rendered._model, rendered._tokenizer = model, tokenizer
    prompt_ids = tokenizer(rendered.render(prompt), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(CANNED, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([prompt_ids + answer_ids])
    labels = ids.clone()
    labels[0, : len(prompt_ids)] = -100
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    with _one_torch_thread():
        for _ in range(300):
            loss = model(input_ids=ids, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if loss.item() < 0.01:
                break
    assert loss.item() < 0.05, f"the tiny model did not learn its answer (loss {loss.item():.3f})"
    model.save_pretrained(directory)
    return directory


def test_local_backend_streams_tokens_through_the_full_path(tiny_lm):
    generator = create_generator("local", GeneratorOptions(llm_path=tiny_lm, max_new_tokens=80, device="cpu"))
    with _one_torch_thread():
        pieces, answer = run_streamed(answerer_with(generator))
    assert len(pieces) > 1  # streamed, not returned in one piece
    assert answer.generator == "local"
    check_canned_answer(answer)


def test_local_backend_loads_a_lora_adapter(tiny_lm, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_lm)
    # LoRA's B matrices start at zero, so the freshly made adapter must leave the answer unchanged.
    adapter = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], task_type="CAUSAL_LM")
    )
    adapter.save_pretrained(tmp_path / "adapter")
    generator = create_generator(
        "local",
        GeneratorOptions(llm_path=tiny_lm, lora_path=tmp_path / "adapter", max_new_tokens=80, device="cpu"),
    )
    with _one_torch_thread():
        answer = answerer_with(generator).answer(QUESTION, question_type="conduct")
    model, _ = generator.load()
    assert isinstance(model, PeftModel)
    check_canned_answer(answer)


def test_local_backend_refuses_an_adapter_directory_without_config(tiny_lm, tmp_path):
    with pytest.raises(ConfigError, match="adapter_config.json"):
        create_generator("local", GeneratorOptions(llm_path=tiny_lm, lora_path=tmp_path))


# --- OpenAI-compatible endpoint ------------------------------------------------------------------


@pytest.fixture
def chat_server():
    with serve_chat_completions(CANNED) as base_url:
        yield base_url


def _openai(base_url: str, **kwargs):
    return create_generator(
        "openai",
        GeneratorOptions(openai_base_url=base_url, openai_model="tiny", openai_api_key="secret", **kwargs),
    )


def test_openai_backend_streams_sse_through_the_full_path(chat_server):
    pieces, answer = run_streamed(answerer_with(_openai(chat_server)))
    assert len(pieces) == len(CANNED.split(" "))
    check_canned_answer(answer)
    (request,) = ChatCompletions.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer secret"
    body = request["body"]
    assert body["stream"] is True and body["model"] == "tiny"
    system, user = body["messages"]
    assert system["role"] == "system" and "[1]" in system["content"]
    assert user["content"].startswith("来源:\n[1] 专利法 第十一条") and "例外与抗辩" in user["content"]


def test_openai_backend_generate_without_streaming(chat_server):
    prompt = build_prompt(QUESTION, QuestionType.CONDUCT, hits(*SOURCES))
    assert _openai(chat_server).generate(prompt) == CANNED
    assert ChatCompletions.requests[0]["body"]["stream"] is False


def test_openai_backend_names_the_url_of_an_http_error(chat_server):
    ChatCompletions.status = 503
    prompt = build_prompt(QUESTION, QuestionType.CONDUCT, hits(*SOURCES))
    with pytest.raises(GeneratorError, match=r"/v1/chat/completions: HTTP 503: .*overloaded"):
        list(_openai(chat_server).stream(prompt))


def test_openai_backend_names_the_url_it_cannot_reach():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prompt = build_prompt(QUESTION, QuestionType.CONDUCT, hits(*SOURCES))
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(GeneratorError, match=f"http://127.0.0.1:{port}/v1/chat/completions: cannot reach"):
        list(_openai(url, timeout_s=5).stream(prompt))
    # in the answering path the failure becomes an abstention that says why, not a crash
    answer = answerer_with(_openai(url, timeout_s=5)).answer(QUESTION)
    assert answer.abstained and "cannot reach" in answer.abstain_reason and answer.evidence


# --- real statutes ---------------------------------------------------------------------------------


@pytest.mark.shared
def test_extractive_answers_over_real_statutes_quote_verbatim_and_verify(shared_data):
    """Real 专利法, 35 U.S.C. and the Lanham Act, parsed by the real parsers; the evidence is picked by
    citation (retrieval is not under test): every citation must verify and quote its chunk verbatim."""
    from ingest.lookup import InMemoryChunkLookup
    from ingest.pipeline import iter_documents
    from ipqa.domain import Hit

    errors: list = []
    parsed = list(
        iter_documents(
            [
                shared_data / "cn-law" / "民法商法" / "专利法(2020-10-17).md",
                shared_data / "us-law" / "usc35.xml",
                shared_data / "us-law" / "15usc-ch22-lanham-act.md",
            ],
            max_file_bytes=50 * 1024 * 1024,
            errors=errors,
        )
    )
    assert not errors
    lookup = InMemoryChunkLookup(parsed)
    by_citation = {c.citation: c for p in parsed for c in p.chunks}
    cases = [
        (
            "为科学研究和实验而使用他人的专利，是否构成侵犯专利权？",
            "conduct",
            ["专利法 第十一条", "专利法 第七十五条"],
            "专利法 第七十五条",
        ),
        (
            "Is it infringement to use a patented drug to prepare an FDA submission?",
            "conduct",
            ["35 U.S.C. § 271", "35 U.S.C. § 284"],
            "35 U.S.C. § 271",
        ),
        (
            "What is trademark infringement by a confusingly similar mark?",
            "doctrine",
            ["15 U.S.C. § 1114", "15 U.S.C. § 1125"],
            "15 U.S.C. § 1114",
        ),
    ]
    judge = LexicalJudge()
    texts = []
    for question, qtype, citations, expected in cases:
        evidence = [Hit(by_citation[c], score=1.0 - i / 10, rank=i + 1) for i, c in enumerate(citations)]
        answerer = Answerer(FixedRetriever(evidence), ExtractiveGenerator(), judge, lookup)
        answer = answerer.answer(question, question_type=qtype)
        assert not answer.abstained, answer.abstain_reason
        assert expected in {c.citation for c in answer.citations}
        for cite in answer.citations:
            assert cite.verified, cite
            assert cite.quoted_span in by_citation[cite.citation].text
        texts.append(answer.text)
    # the exemptions are found in the real text and filed under exceptions
    assert texts[0].index("例外与抗辩") < texts[0].index("专利法 第七十五条")
    assert texts[1].index("Exceptions and defences") < texts[1].index("35 U.S.C. § 271")


# --- a local model's context is bounded --------------------------------------------------------------

MANY = ("专利法 第十一条", "专利法 第七十五条", "35 U.S.C. § 271", "专利法 第四十二条", "35 U.S.C. § 101")


@pytest.fixture(scope="module")
def short_context_lm(tiny_lm, tmp_path_factory):
    """An untrained 1-layer GPT-2 (tiny_lm's tokenizer) whose context holds the prompt with the two
    best of MANY sources plus the answer, but not three: ``(model dir, max_new_tokens)``."""
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from rag.generators.local_hf import LocalHfGenerator

    directory = tmp_path_factory.mktemp("short-context-lm")
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    tokenizer.save_pretrained(directory)
    counter = LocalHfGenerator(tiny_lm, device="cpu")
    two = counter.count_prompt_tokens(build_prompt(QUESTION, QuestionType.CONDUCT, hits(*MANY[:2])))
    three = counter.count_prompt_tokens(build_prompt(QUESTION, QuestionType.CONDUCT, hits(*MANY[:3])))
    assert two < three
    max_new_tokens = 4
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=two + max_new_tokens, n_layer=1, n_head=2,
                        n_embd=16, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory, max_new_tokens


def test_local_backend_states_its_prompt_budget(short_context_lm):
    from rag.protocols import ContextLimited

    directory, max_new_tokens = short_context_lm
    generator = create_generator("local", GeneratorOptions(llm_path=directory, max_new_tokens=max_new_tokens,
                                                           device="cpu"))
    assert isinstance(generator, ContextLimited)
    model, _ = generator.load()
    assert generator.prompt_token_budget() == model.config.n_positions - max_new_tokens
    too_greedy = create_generator("local", GeneratorOptions(llm_path=directory, max_new_tokens=10_000,
                                                            device="cpu"))
    with pytest.raises(ConfigError, match="max_new_tokens 10000 leaves no room for a prompt"):
        too_greedy.prompt_token_budget()


def test_local_backend_refuses_an_overlong_prompt_with_the_numbers(short_context_lm):
    directory, max_new_tokens = short_context_lm
    generator = create_generator("local", GeneratorOptions(llm_path=directory, max_new_tokens=max_new_tokens,
                                                           device="cpu"))
    prompt = build_prompt(QUESTION, QuestionType.CONDUCT, hits(*MANY))
    with pytest.raises(GeneratorError, match=r"the prompt is \d+ tokens; the local model .* leaves \d+ for it"):
        generator.generate(prompt)


def test_answerer_fits_many_sources_into_a_short_context(short_context_lm):
    directory, max_new_tokens = short_context_lm
    generator = create_generator("local", GeneratorOptions(llm_path=directory, max_new_tokens=max_new_tokens,
                                                           device="cpu"))
    answerer = Answerer(FixedRetriever(hits(*MANY)), generator, LexicalJudge(), LookupStore())
    with _one_torch_thread():
        answer = answerer.answer(QUESTION, question_type="conduct")
    # the model ran (an untrained model says nothing citable, hence the abstention) on the two best
    # sources: the evidence is what it was shown, so [1] and [2] mean what they meant in the prompt
    assert "generator failed" not in (answer.abstain_reason or "")
    assert [h.chunk.citation for h in answer.evidence] == list(MANY[:2])
