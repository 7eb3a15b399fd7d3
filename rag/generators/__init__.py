"""Generator backends, chosen by name (``Settings.generator``):

* ``extractive`` (default): quotes the best supporting provisions verbatim, no model needed;
* ``local``: a transformers causal LM from a local path, optionally with a peft LoRA adapter;
* ``openai``: any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, …).

Backend modules are imported inside the factories so that choosing ``extractive`` never imports
torch or transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ipqa.errors import ConfigError
from ipqa.registry import Registry, UnknownBackendError
from rag.generators.errors import GeneratorError
from rag.protocols import Generator


@dataclass(frozen=True)
class GeneratorOptions:
    """Everything any backend may need; each backend reads the fields it uses."""

    llm_path: Path | None = None
    lora_path: Path | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None
    max_new_tokens: int = 512
    temperature: float = 0.0
    device: str = "auto"
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0, got {self.temperature}")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0, got {self.timeout_s}")


def generator_registry() -> Registry[Generator]:
    """Generators by name. Built per call (no module-level state); factories import lazily."""
    registry: Registry[Generator] = Registry("generator")

    @registry.register("extractive")
    def _extractive(options: GeneratorOptions) -> Generator:
        from rag.generators.extractive import ExtractiveGenerator

        return ExtractiveGenerator()

    @registry.register("local")
    def _local(options: GeneratorOptions) -> Generator:
        from rag.generators.local_hf import LocalHfGenerator

        if options.llm_path is None:
            raise ConfigError("generator 'local' needs a model directory: set IPQA_LLM_PATH")
        return LocalHfGenerator(
            options.llm_path,
            lora_path=options.lora_path,
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            device=options.device,
        )

    @registry.register("openai")
    def _openai(options: GeneratorOptions) -> Generator:
        from rag.generators.openai_compat import OpenAICompatGenerator

        if not options.openai_base_url:
            raise ConfigError(
                "generator 'openai' needs an endpoint: set IPQA_OPENAI_BASE_URL "
                "(e.g. http://localhost:8000/v1)"
            )
        return OpenAICompatGenerator(
            options.openai_base_url,
            model=options.openai_model,
            api_key=options.openai_api_key,
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            timeout_s=options.timeout_s,
        )

    return registry


def create_generator(name: str, options: GeneratorOptions | None = None) -> Generator:
    """The generator called ``name``; an unknown name raises ConfigError listing the valid ones."""
    try:
        factory = generator_registry().get(name)
    except UnknownBackendError as exc:
        raise ConfigError(str(exc)) from None
    return factory(options or GeneratorOptions())


__all__ = ["GeneratorError", "GeneratorOptions", "create_generator", "generator_registry"]
