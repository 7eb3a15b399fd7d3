"""`ipqa search` / `ipqa ask` end to end over an index of the example corpus (tiny random embedder,
so the ranking comes from BM25), and scripts/make_examples.py on the same index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ipqa.cli import build_app
from ipqa.errors import IndexUnavailableError, InputError

REPO = Path(__file__).resolve().parent.parent

# Questions the example corpus can answer (its statute, judgment, opinion and patent are fictional).
EXAMPLE_QUESTIONS = [
    ("电子商务平台经营者接到侵权通知后未及时采取必要措施的，承担什么法律责任？", None),
    ("展会举办单位未设立知识产权投诉站的，会受到什么处罚？", "conduct"),
    (
        "Can the doctrine of equivalents reach a brush-type cleaner when the patent disclosed but did not "
        "claim bristles?",
        "case",
    ),
]


@pytest.fixture(scope="module")
def index_env(tmp_path_factory, tiny_embedder_dir, examples_dir):
    data_dir = tmp_path_factory.mktemp("rag-cli") / "var"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IPQA_DATA_DIR", str(data_dir))
        mp.setenv("IPQA_EMBEDDER", str(tiny_embedder_dir))
        mp.setenv("IPQA_INGEST_JOBS", "1")
        mp.setenv("IPQA_GENERATOR", "extractive")
        result = CliRunner().invoke(build_app(), ["index", "rebuild", "--source", str(examples_dir)])
        assert result.exit_code == 0, result.output
        yield data_dir


def invoke(*args: str):
    return CliRunner().invoke(build_app(), list(args), catch_exceptions=True)


def test_search_prints_hits_with_scores_and_citations(index_env):
    result = invoke("search", "电子商务平台经营者 侵权通知 必要措施", "--k", "3")
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(" 1. 0.") and "示例知识产权保护条例 第七条" in first
    assert "bm25=" in result.stdout


def test_search_json_with_filters(index_env):
    result = invoke(
        "search",
        "doctrine of equivalents bristles",
        "--json",
        "--k",
        "5",
        "--filter",
        "jurisdiction=us",
        "--filter",
        "kind=judgment,patent",
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits and all(h["jurisdiction"] == "US" and h["kind"] in ("judgment", "patent") for h in hits)
    assert {"rank", "score", "citation", "chunk_id", "document_id", "text"} <= set(hits[0])


@pytest.mark.parametrize("as_of, problem", [("2015-02-30", "not a date in the form YYYY-MM-DD"),
                                            ("2999-01-01", "is in the future")])
def test_a_bad_as_of_date_is_refused_naming_the_option(index_env, as_of, problem):
    for command in ("search", "ask"):
        result = invoke(command, "专利", "--as-of", as_of)
        assert isinstance(result.exception, InputError)
        assert str(result.exception).startswith("--as-of: ") and problem in str(result.exception)


def test_search_as_of_a_past_date(index_env):
    result = invoke("search", "电子商务平台经营者 侵权通知 必要措施", "--as-of", "2020-01-01", "--json")
    assert result.exit_code == 0, result.output


def test_bad_filter_is_refused_naming_the_option(index_env):
    result = invoke("search", "x", "--filter", "colour=red")
    assert isinstance(result.exception, InputError)
    assert "--filter: unknown key 'colour'" in str(result.exception)


def test_ask_json_gives_verified_verbatim_citations(index_env):
    question, _ = EXAMPLE_QUESTIONS[0]
    result = invoke("ask", question, "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert not answer["abstained"] and answer["generator"] == "extractive"
    assert answer["citations"] and all(c["verified"] for c in answer["citations"])
    chunks = {h["chunk_id"]: h["text"] for h in answer["evidence"]}
    for c in answer["citations"]:
        assert c["quoted_span"] in chunks[c["chunk_id"]]
    assert any(c["citation"] == "示例知识产权保护条例 第十一条" for c in answer["citations"])
    assert answer["timings"]["total_ms"] > 0


def test_ask_streams_the_answer_then_the_citation_checks(index_env):
    result = invoke("ask", EXAMPLE_QUESTIONS[2][0], "--type", "case")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("No generative model is configured") < out.index("Citations:") < out.index("Evidence:")
    assert "— verified, support" in out and "extractive · case" in out


def test_ask_refuses_an_unknown_type(index_env):
    result = invoke("ask", "What is a patent?", "--type", "essay")
    assert isinstance(result.exception, InputError) and "question_type" in str(result.exception)


def test_missing_index_is_a_clean_error(tmp_path, tiny_embedder_dir, monkeypatch):
    monkeypatch.setenv("IPQA_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("IPQA_EMBEDDER", str(tiny_embedder_dir))
    result = invoke("search", "patent")
    assert isinstance(result.exception, IndexUnavailableError) and "no index at" in str(result.exception)


def test_make_examples_checks_every_citation(index_env, tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from make_examples import QUESTIONS, make_examples
    finally:
        sys.path.remove(str(REPO / "scripts"))
    assert len(QUESTIONS) == 10
    output = tmp_path / "examples.md"
    problems = make_examples(None, output, questions=EXAMPLE_QUESTIONS)
    assert problems == []
    text = output.read_text(encoding="utf-8")
    for question, _ in EXAMPLE_QUESTIONS:
        assert f". {question}" in text
    assert "| 1 | " in text and "| yes |" in text
    # a question the example corpus cannot answer is reported as a problem, not hidden
    problems = make_examples(None, tmp_path / "bad.md", questions=[("How do I bake sourdough bread?", None)])
    assert problems and "abstained" in problems[0]


# --- torch threads: applied once at the edge --------------------------------------------------------


@pytest.fixture
def torch_threads_restored():
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_configure_torch_sets_the_threads_or_leaves_the_default(torch_threads_restored):
    from ipqa.runtime import configure_torch

    torch = torch_threads_restored
    torch.set_num_threads(2)
    configure_torch(None)
    assert torch.get_num_threads() == 2
    configure_torch(1)
    assert torch.get_num_threads() == 1
    for bad in (0, -1, True, "2"):
        with pytest.raises(ValueError, match="torch threads must be a positive integer"):
            configure_torch(bad)


def test_a_one_shot_embedder_applies_the_torch_threads_setting_when_its_model_loads(
        torch_threads_restored, tiny_embedder_dir, monkeypatch, tmp_path):
    from indexes.embedder import DeferredEmbedder
    from ipqa.settings import Settings
    from rag.compose import build_embedder

    torch = torch_threads_restored
    torch.set_num_threads(2)
    monkeypatch.delenv("IPQA_TORCH_THREADS", raising=False)
    assert Settings().torch_threads == 1  # the serving default
    # torch: the model itself encodes (no saved torch-free encoder is made or used)
    monkeypatch.setenv("IPQA_EMBED_QUERY_RUNTIME", "torch")
    monkeypatch.setenv("IPQA_DATA_DIR", str(tmp_path))
    default_threads = build_embedder(Settings(embedder=str(tiny_embedder_dir), torch_threads=None), one_shot=True)
    default_threads.encode_query(["patent term"])
    assert torch.get_num_threads() == 2
    embedder = build_embedder(Settings(embedder=str(tiny_embedder_dir)), one_shot=True)
    assert isinstance(embedder, DeferredEmbedder) and not embedder.loaded
    assert torch.get_num_threads() == 2  # nothing loaded, nothing configured
    embedder.encode_query(["patent term"])
    assert embedder.loaded and torch.get_num_threads() == 1
    monkeypatch.setenv("IPQA_TORCH_THREADS", "default")
    assert Settings().torch_threads is None


# --- a one-shot command loads only what it needs, and libraries keep quiet ---------------------------


def _run_cli(data_dir: Path, *args: str, probe: str = "") -> subprocess.CompletedProcess:
    """``ipqa ARGS`` in a fresh interpreter (so imports are its own); ``probe`` is Python run after
    the command, in the same process (e.g. to print what it imported)."""
    code = ("import sys\nfrom ipqa.cli import build_app\n"
            f"try:\n    build_app()({list(args)!r}, standalone_mode=False)\n"
            f"finally:\n    sys.stdout.flush()\n{probe}")
    env = {**os.environ, "IPQA_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO)}
    for name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE", "DISABLE_TQDM", "TRANSFORMERS_VERBOSITY"):
        env.pop(name, None)  # as a user's shell has them: unset
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                          cwd=REPO)


def test_a_chinese_search_never_loads_the_english_embedder(index_env):
    probe = ("print('LOADED', sorted(m for m in ('sentence_transformers', 'transformers', 'torch') "
             "if m in sys.modules))")
    chinese = _run_cli(index_env, "search", EXAMPLE_QUESTIONS[0][0], "--k", "3", probe=probe)
    assert chinese.returncode == 0, chinese.stderr
    assert "示例知识产权保护条例" in chinese.stdout and "LOADED []" in chinese.stdout
    # the probe can see a load: an English query (the tiny embedder serves English) needs the model
    # the first time; it saves a torch-free query encoder that the next English search uses instead
    cache = index_env / "cache" / "query-encoders"
    shutil.rmtree(cache, ignore_errors=True)
    english = _run_cli(index_env, "search", "doctrine of equivalents bristles", "--k", "3", "--json", probe=probe)
    assert english.returncode == 0, english.stderr
    assert "'sentence_transformers'" in english.stdout and "'torch'" in english.stdout
    assert len(list(cache.glob("*/encoder.json"))) == 1
    again = _run_cli(index_env, "search", "doctrine of equivalents bristles", "--k", "3", "--json", probe=probe)
    assert again.returncode == 0, again.stderr
    assert "LOADED []" in again.stdout

    def hits(run: subprocess.CompletedProcess) -> list:
        return json.loads(run.stdout[:run.stdout.rindex("LOADED")])

    first, second = hits(english), hits(again)
    assert [h["chunk_id"] for h in first] == [h["chunk_id"] for h in second]
    assert any("dense" in h["component_scores"] for h in second)  # the dense list was searched
    for a, b in zip(first, second):
        for name, value in a["component_scores"].items():
            assert b["component_scores"][name] == pytest.approx(value, abs=1e-4)


LIBRARY_NOISE = ("Loading weights", "it/s]", "%|", "Warning", "warn(")


def test_commands_print_no_library_progress_or_warnings_unless_verbose(index_env):
    cache = index_env / "cache" / "query-encoders"  # without a saved query encoder the model loads
    for args in (("search", "doctrine of equivalents bristles", "--k", "3"),
                 ("ask", EXAMPLE_QUESTIONS[2][0], "--json")):
        shutil.rmtree(cache, ignore_errors=True)
        quiet = _run_cli(index_env, *args)
        assert quiet.returncode == 0, quiet.stderr
        noise = [marker for marker in LIBRARY_NOISE if marker in quiet.stderr + quiet.stdout]
        assert not noise, quiet.stderr
    # the same command with --verbose shows transformers' bar: the check above can fail
    shutil.rmtree(cache, ignore_errors=True)
    verbose = _run_cli(index_env, "--verbose", "search", "doctrine of equivalents bristles", "--k", "3")
    assert verbose.returncode == 0, verbose.stderr
    assert "Loading weights" in verbose.stderr


def test_an_index_build_keeps_its_own_progress_bars_and_drops_the_libraries(tmp_path, tiny_embedder_dir,
                                                                             examples_dir, monkeypatch):
    monkeypatch.setenv("IPQA_EMBEDDER", str(tiny_embedder_dir))
    monkeypatch.setenv("IPQA_INGEST_JOBS", "1")
    build = _run_cli(tmp_path / "var", "index", "rebuild", "--source", str(examples_dir))
    assert build.returncode == 0, build.stderr
    output = build.stdout + build.stderr
    assert "parse" in output and "embed" in output and "━" in output  # ipqa's rich bars, per stage
    assert "is now current" in output
    assert not [marker for marker in LIBRARY_NOISE if marker in output], output
