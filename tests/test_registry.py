"""The one factory convention every backend registry follows (ipqa/registry.py): a frozen options
dataclass, unknown names and options refused naming the valid ones (as ConfigErrors), resolvers
such as ``auto`` going through the registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ipqa.errors import ConfigError
from ipqa.registry import Registry, UnknownBackendError, UnknownOptionError


@dataclass(frozen=True)
class ToyOptions:
    size: int = 1
    colour: str = "red"


def toy_registry() -> Registry[str, ToyOptions]:
    registry: Registry[str, ToyOptions] = Registry("toy", ToyOptions)

    @registry.register("box")
    def _box(options: ToyOptions) -> str:
        return f"box {options.size} {options.colour}"

    @registry.register("ball")
    def _ball(options: ToyOptions) -> str:
        return f"ball {options.size}"

    @registry.register_resolver("auto")
    def _auto(options: ToyOptions) -> str:
        return "ball" if options.size > 3 else "box"

    return registry


def test_factories_get_the_options_with_fields_replaced():
    registry = toy_registry()
    assert registry.create("box") == "box 1 red"
    assert registry.create("box", ToyOptions(size=2), colour="blue") == "box 2 blue"
    assert registry.names() == ["auto", "ball", "box"]


def test_an_unknown_name_is_a_config_error_naming_the_valid_ones():
    with pytest.raises(UnknownBackendError, match="unknown toy 'crate'; valid names: auto, ball, box") as caught:
        toy_registry().create("crate")
    assert isinstance(caught.value, ConfigError)


def test_an_unknown_option_is_a_config_error_naming_the_valid_ones():
    with pytest.raises(UnknownOptionError, match="unknown toy option.*'color'; valid options: size, colour") as caught:
        toy_registry().create("box", color="blue")
    assert isinstance(caught.value, ConfigError)


def test_auto_resolves_through_the_registry():
    registry = toy_registry()
    assert registry.resolve("auto", ToyOptions(size=5)) == "ball"
    assert registry.create("auto", size=5) == "ball 5"
    assert registry.create("auto") == "box 1 red"


def test_a_resolver_must_pick_a_registered_name():
    registry = toy_registry()

    @registry.register_resolver("broken")
    def _broken(options: ToyOptions) -> str:
        return "crate"

    with pytest.raises(UnknownBackendError, match="unknown toy 'crate'"):
        registry.create("broken")


def test_names_are_registered_once_and_options_must_be_frozen_dataclasses():
    registry = toy_registry()
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("auto")(lambda options: "again")

    @dataclass
    class Mutable:
        size: int = 1

    with pytest.raises(TypeError, match="frozen dataclass"):
        Registry("toy", Mutable)
    with pytest.raises(TypeError, match="frozen dataclass"):
        Registry("toy", dict)


# --- every registry of the project follows it --------------------------------------------------------


def test_generators_refuse_unknown_names_and_options():
    from rag.generators import create_generator, generator_registry

    assert create_generator("extractive").name == "extractive"
    with pytest.raises(UnknownBackendError, match="valid names: extractive, local, openai"):
        create_generator("gpt-5")
    with pytest.raises(UnknownOptionError, match="'max_tokens'.*valid options: llm_path"):
        create_generator("extractive", max_tokens=10)
    assert generator_registry().options_type.__dataclass_params__.frozen


def test_judges_refuse_unknown_names_and_options():
    from rag.judges import JudgeOptions, create_judge

    assert create_judge("lexical", JudgeOptions()).name == "lexical"
    with pytest.raises(UnknownBackendError, match="valid names: cross-encoder, lexical, nli"):
        create_judge("oracle")
    with pytest.raises(UnknownOptionError, match="'modelpath'.*valid options: model_path, device"):
        create_judge("lexical", modelpath="/x")
    assert JudgeOptions(model_path="").model_path is None  # an empty setting is no model


def test_rerankers_refuse_unknown_names_and_options(tmp_path: Path):
    from rag.rerank import RerankerOptions, create_reranker, reranker_registry

    assert create_reranker("none") is None
    assert create_reranker("auto", RerankerOptions(ltr_model_path=tmp_path / "absent")) is None
    # misspelled options were once swallowed by **_ and the reranker silently ran without them
    with pytest.raises(UnknownOptionError, match="'reranker_pth'.*valid options: reranker_path"):
        create_reranker("auto", reranker_pth=tmp_path)
    with pytest.raises(UnknownBackendError, match="valid names: auto, cross-encoder, ltr, none"):
        create_reranker("bm42")
    registry = reranker_registry()
    assert registry.resolve("auto", RerankerOptions(reranker_path=tmp_path)) == "cross-encoder"
    assert registry.resolve("auto", RerankerOptions()) == "none"


def test_embedders_refuse_unknown_names_and_options(tmp_path: Path):
    from indexes.embedder import create_embedder

    with pytest.raises(ConfigError, match="not a registered name \\(minilm\\)"):
        create_embedder("no-such-model")
    with pytest.raises(UnknownOptionError, match="'devices'.*valid options: device"):
        create_embedder("minilm", devices="cpu")
