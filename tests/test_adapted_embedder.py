"""The English embedder adapted from the bundled MiniLM (``ipqa train embedder --language en``):
pairs from the corpus, seeded and resumable training, a model directory the settings pick up (and
refuse when it is not an English model of this format), with a tiny BERT standing in for MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index_corpus import HashingEmbedder, corpus, patent
from indexes.build import BuildOptions, build_from_documents
from indexes.embedder import create_embedder, default_en_model_dir, english_model_spec
from indexes.embedder_training import Pair
from indexes.static_embedder import METADATA_FILE
from indexes.transformer_training import (FAMILY, AdaptOptions, adapt_sentence_transformer, english_pairs,
                                          is_adapted_model_dir, read_adapted_model)
from ipqa.errors import ConfigError, IndexUnavailableError, InputError

SECTION_101 = ("§ 101. Inventions patentable\nWhoever invents or discovers any new and useful process, machine, "
               "manufacture, or composition of matter may obtain a patent therefor.")
SECTION_271 = ("§ 271. Infringement of patent\n(a) Whoever without authority makes, uses, offers to sell, or sells "
               "any patented invention within the United States infringes the patent.\n(b) Whoever actively "
               "induces infringement of a patent shall be liable as an infringer of the patent in question.")


def _rows() -> list[tuple[str, str, str, str]]:
    return [
        ("usc35", "35 U.S.C. § 101", "section", SECTION_101),
        ("usc35", "35 U.S.C. § 271", "section", SECTION_271),
        ("usc35-old", "35 U.S.C. § 271", "section", SECTION_271),  # another version, same text
        ("usc35", "35 U.S.C. ch. 10", "chapter", "Chapter 10\nPatentability of inventions"),
        ("judgment", "Smith v. Jones, ¶ 3", "section", "Background\nThe parties dispute the license."),
        ("p1", "US 1, abstract", "abstract", "A bicycle brake with a lever."),
        *[("p1", f"US 1, claim {n}", "claim", f"{n}. A brake comprising part {n}.") for n in range(1, 6)],
        ("p2", "US 2, claim 1", "claim", "1. A hinge."),  # no abstract: no pair
    ]


def test_english_pairs_come_from_us_code_sections_and_patent_claims_only() -> None:
    pairs = english_pairs(_rows())
    kinds = [p.kind for p in pairs]
    assert kinds.count("heading") == 2  # § 101, § 271 once (its second version is the same text)
    # (a), (b) of § 271, and § 101's text (no lettered subsections: its one part) -> its heading
    assert kinds.count("subsection") == 3
    assert kinds.count("claim") == 3  # the first three claims of the patent with an abstract
    heading = next(p for p in pairs if p.kind == "heading")
    assert heading.query == "§ 101. Inventions patentable" and heading.positive.startswith("Whoever invents")
    subsection = next(p for p in pairs if p.kind == "subsection" and "271" in p.positive)
    assert subsection.query.startswith("(a) Whoever without authority")
    assert "(a) Whoever" not in subsection.positive and "(b) Whoever actively" in subsection.positive
    assert all(p.positive == "A bicycle brake with a lever." for p in pairs if p.kind == "claim")
    assert not any("license" in p.query + p.positive for p in pairs)  # not the U.S. Code
    capped = english_pairs(_rows(), max_query_chars=20, max_positive_chars=30)
    assert all(len(p.query) <= 20 and len(p.positive) <= 30 for p in capped)


@pytest.mark.parametrize("field, value, message", [
    ("language", "zh", "adapting a transformer is for English"),
    ("epochs", 0, "epochs must be >= 1, got 0"),
    ("batch_size", 1, "batch_size must be >= 2"),
    ("learning_rate", 0.0, "learning_rate must be > 0"),
    ("checkpoint_every", 0, "checkpoint_every must be >= 1"),
])
def test_options_name_the_bad_value(field: str, value, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AdaptOptions(**{field: value})


def _pairs(n: int = 12) -> list[Pair]:
    topics = ["patent", "trademark", "copyright", "infringement", "claim", "court"]
    return [Pair(f"what is a {topics[i % 6]} number {i}", f"a {topics[i % 6]} is granted for invention {i}",
                 "heading") for i in range(n)]


def _weights(model_dir: Path) -> str:
    return json.loads((model_dir / METADATA_FILE).read_text())["weights"]


def test_adapting_writes_a_loadable_english_model_seeded_and_reused(tiny_embedder_dir: Path, tmp_path: Path) -> None:
    options = AdaptOptions(batch_size=4, learning_rate=1e-3, epochs=2)
    messages: list[str] = []
    report = adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "a", options,
                                        progress=messages.append, extra_info={"index_version": "v1"})
    assert report.epochs_run == 2 and report.pairs == {"heading": 12} and len(report.losses) == 2
    assert any("epoch 2/2 step 3/3" in m for m in messages)  # progress shown
    info = read_adapted_model(tmp_path / "a", expect_language="en")
    assert info.family == FAMILY and info.extra["index_version"] == "v1"
    assert not (tmp_path / "a.partial").exists() and not (tmp_path / "a.new").exists()
    embedder = create_embedder(str(tmp_path / "a"), device="cpu")  # a normal sentence-transformers directory
    assert embedder.languages == frozenset({"en"}) and embedder.encode_query(["patent"]).shape == (1, 32)
    base = create_embedder(str(tiny_embedder_dir), device="cpu")
    assert not np.allclose(embedder.encode_query(["patent law"]), base.encode_query(["patent law"]))  # it learned

    again = adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "a", options)
    assert again.epochs_run == 0  # the same base, options and pairs: reused
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "b", options)
    assert _weights(tmp_path / "b") == _weights(tmp_path / "a")  # seeded: the same model
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "a", AdaptOptions(
        batch_size=4, learning_rate=1e-3, epochs=2, seed=1))
    assert _weights(tmp_path / "a") != _weights(tmp_path / "b")  # other options: retrained in place
    assert create_embedder(str(tmp_path / "a"), device="cpu").name != embedder.name


def test_an_interrupted_run_resumes_to_the_same_model(tiny_embedder_dir: Path, tmp_path: Path) -> None:
    options = AdaptOptions(batch_size=2, learning_rate=1e-3, checkpoint_every=1)
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "whole", options)

    class Interrupted(Exception):
        pass

    def stop_at_step_5(message: str) -> None:
        if "step 5/" in message:
            raise Interrupted

    with pytest.raises(Interrupted):
        adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "cut", options, progress=stop_at_step_5)
    assert not (tmp_path / "cut").exists() and (tmp_path / "cut.partial" / "checkpoint" / "state.pt").is_file()
    messages: list[str] = []
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "cut", options, progress=messages.append)
    assert messages[0] == "resuming at epoch 1 step 5"
    assert _weights(tmp_path / "cut") == _weights(tmp_path / "whole")


def test_a_torn_checkpoint_is_discarded_and_training_starts_afresh(tiny_embedder_dir: Path, tmp_path: Path) -> None:
    options = AdaptOptions(batch_size=2, learning_rate=1e-3, checkpoint_every=1)
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "whole", options)

    def stop_at_step_5(message: str) -> None:
        if "step 5/" in message:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "cut", options, progress=stop_at_step_5)
    state = tmp_path / "cut.partial" / "checkpoint" / "state.pt"
    state.write_bytes(state.read_bytes()[:100])  # cut short, as by a crash while writing
    messages: list[str] = []
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "cut", options, progress=messages.append)
    assert messages[0].startswith("discarding the unreadable checkpoint")
    assert _weights(tmp_path / "cut") == _weights(tmp_path / "whole")  # trained from the start: the same model


def test_a_run_interrupted_while_replacing_the_model_puts_it_back(adapted_dir: Path, tmp_path: Path) -> None:
    import shutil

    data_dir = tmp_path / "var"
    model = default_en_model_dir(data_dir)
    model.parent.mkdir(parents=True)
    shutil.copytree(adapted_dir, model.parent / "embedder-en.old")  # moved aside, the new one not yet moved in
    with pytest.raises(ConfigError, match="embedder-en.old is beside it: a `ipqa train embedder --language en` was "
                                          "interrupted"):
        english_model_spec("minilm", "auto", data_dir)  # not silently the bundled model
    messages: list[str] = []
    options = json.loads((adapted_dir / METADATA_FILE).read_text())["options"]
    adapt_sentence_transformer(Path(json.loads((adapted_dir / METADATA_FILE).read_text())["base_model"]), _pairs(),
                               model, AdaptOptions(**options), progress=messages.append)
    assert messages[0].startswith("restored") and messages[1].startswith("reusing the model")
    assert english_model_spec("minilm", "auto", data_dir) == str(model)


def test_an_output_directory_that_is_not_an_english_model_is_never_replaced(tiny_embedder_dir: Path,
                                                                            tmp_path: Path) -> None:
    mine = tmp_path / "my-notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="my-notes: exists and is not an English model written by"):
        adapt_sentence_transformer(tiny_embedder_dir, _pairs(), mine, AdaptOptions(batch_size=4))
    assert (mine / "notes.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()  # an empty directory is fine
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), tmp_path / "empty", AdaptOptions(batch_size=4))
    assert is_adapted_model_dir(tmp_path / "empty")


def test_no_pairs_or_no_base_model_is_named(tiny_embedder_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no training pairs"):
        adapt_sentence_transformer(tiny_embedder_dir, [], tmp_path / "m", AdaptOptions())
    with pytest.raises(InputError, match="nowhere: not a sentence-transformers model directory"):
        adapt_sentence_transformer(tmp_path / "nowhere", _pairs(), tmp_path / "m", AdaptOptions())


@pytest.fixture(scope="module")
def adapted_dir(tiny_embedder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("adapted") / "embedder-en"
    adapt_sentence_transformer(tiny_embedder_dir, _pairs(), out, AdaptOptions(batch_size=4),
                               extra_info={"base_model": str(tiny_embedder_dir)})
    return out


def test_the_settings_pick_up_a_trained_english_model_for_the_bundled_one(adapted_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    assert english_model_spec("minilm", "auto", data_dir) == "minilm"  # nothing trained
    default_en_model_dir(data_dir).parent.mkdir(parents=True)
    default_en_model_dir(data_dir).symlink_to(adapted_dir, target_is_directory=True)
    assert english_model_spec("minilm", "auto", data_dir) == str(default_en_model_dir(data_dir))
    assert english_model_spec("minilm", "none", data_dir) == "minilm"
    assert english_model_spec("/my/model", "auto", data_dir) == "/my/model"  # a configured model is kept
    assert english_model_spec("minilm", str(adapted_dir), tmp_path / "elsewhere") == str(adapted_dir)
    with pytest.raises(ConfigError, match="embedder_en '/no/such/model': no model directory"):
        english_model_spec("minilm", "/no/such/model", data_dir)


@pytest.mark.parametrize("change, message", [
    ({"languages": ["zh"]}, r"serves \['zh'\], not 'en'"),
    ({"format_version": 99}, "written in format 99, this ipqa reads format 1"),
    ({"family": "static"}, "family 'static' in ipqa_embedder.json, expected 'adapted-transformer'"),
])
def test_a_model_of_another_language_format_or_family_is_refused(adapted_dir: Path, tmp_path: Path, change,
                                                                 message: str) -> None:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(adapted_dir, copy)
    meta = json.loads((copy / METADATA_FILE).read_text())
    (copy / METADATA_FILE).write_text(json.dumps({**meta, **change}))
    with pytest.raises(ConfigError, match=message):
        english_model_spec("minilm", str(copy), tmp_path)
    # and as the default model: refused by name rather than silently replaced by the bundled one
    data_dir = tmp_path / "var"
    default_en_model_dir(data_dir).parent.mkdir(parents=True)
    shutil.copytree(copy, default_en_model_dir(data_dir))
    with pytest.raises(ConfigError, match=message):
        english_model_spec("minilm", "auto", data_dir)


def test_train_embedder_en_end_to_end_then_the_rebuild_embeds_english_with_it(
        tiny_embedder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from indexes.snapshot import open_snapshot
    from ipqa.cli import build_app
    from ipqa.settings import Settings
    from rag.compose import build_embedder

    data_dir = tmp_path / "var"
    documents = corpus() + [patent("US 9,000,001 B2", "door hinge"), patent("US 9,000,002 B2", "water pump")]
    build_from_documents(data_dir / "index", documents, embedder=HashingEmbedder(), options=BuildOptions())
    env = {"IPQA_DATA_DIR": str(data_dir), "IPQA_EMBED_DEVICE": "cpu"}
    runner = CliRunner()
    args = ["train", "embedder", "--language", "en", "--base", str(tiny_embedder_dir)]
    result = runner.invoke(build_app(), args, env=env)
    assert result.exit_code == 0, result.output
    assert "6 English training pairs" in result.output  # two claims of each of three patents
    assert is_adapted_model_dir(data_dir / "models" / "embedder-en")
    assert "run `ipqa index rebuild` to embed the English chunks with it" in result.output  # what serves next
    elsewhere = runner.invoke(build_app(), args + ["--out", str(tmp_path / "other")], env=env)
    assert "not what serves English with these settings" in elsewhere.output
    assert "reusing the model" in runner.invoke(build_app(), args, env=env).output

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    embedder = build_embedder(Settings())
    assert embedder.name.startswith(str((data_dir / "models" / "embedder-en").resolve()))
    build_from_documents(data_dir / "index", documents, embedder=embedder, options=BuildOptions())
    snapshot = open_snapshot(data_dir / "index", embedder=build_embedder(Settings()))
    try:
        assert snapshot.search_dense("patent infringement", k=3)  # English is searched with the adapted model
    finally:
        snapshot.close()
    monkeypatch.setenv("IPQA_EMBEDDER_EN", "none")  # the bundled model again: that index is refused by name
    with pytest.raises(IndexUnavailableError, match="embedder-en#.*but the configured embedder is 'minilm'"):
        open_snapshot(data_dir / "index", embedder=build_embedder(Settings())).close()


@pytest.mark.parametrize("args, message", [
    (["--language", "en", "--questions", "q.jsonl"], "--questions: the English model learns from the corpus alone"),
    (["--language", "en", "--no-questions"], "--no-questions: the English model learns from the corpus alone"),
    (["--language", "en", "--held-out-folds", "3"], "--held-out-folds: the English model learns from the corpus"),
    (["--language", "zh", "--base", "/m"], "only --language en adapts a base model"),
    (["--language", "fr"], "'fr': ipqa trains embedders for zh and en"),
])
def test_train_embedder_refuses_options_of_the_other_language(args, message: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ipqa.cli import build_app

    result = CliRunner().invoke(build_app(), ["train", "embedder", *args], env={"IPQA_DATA_DIR": str(tmp_path)})
    assert result.exit_code != 0 and message in str(result.exception)
