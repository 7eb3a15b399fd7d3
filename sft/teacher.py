"""``--teacher``: an OpenAI-compatible endpoint writes the answers from the very prompt the example
will hold (distillation). Its answers go through the same verifier as the built-in ones; for the
exam, an answer must also end with the exam's letters."""

from __future__ import annotations

import re

from ipqa.errors import ConfigError
from rag.protocols import Generator, Prompt
from sft.assemble import AnswerRejected
from sft.candidates import Candidate

_CHOICE = re.compile(r"答案\s*[:：]\s*([A-E](?:\s*[、,，]?\s*[A-E])*)\s*[。.]?\s*$")



class Teacher:
    def __init__(self, generator: Generator) -> None:
        self.generator = generator

    def __call__(self, candidate: Candidate, prompt: Prompt) -> str:
        text = self.generator.generate(prompt).strip()
        if candidate.exam is not None:
            found = _CHOICE.search(text)
            chosen = "".join(sorted(re.sub(r"[^A-E]", "", found.group(1)))) if found else ""
            if chosen != candidate.exam.answer:
                raise AnswerRejected("teacher_wrong_choice")  # a wrong or unreadable choice is not kept
        return text


def configured_teacher(settings) -> Teacher:
    """The teacher from ``IPQA_OPENAI_BASE_URL`` / ``IPQA_OPENAI_MODEL``; refuses to run without one."""
    if not settings.openai_base_url:
        raise ConfigError("--teacher needs an OpenAI-compatible endpoint: set IPQA_OPENAI_BASE_URL "
                          "(and IPQA_OPENAI_MODEL)")
    from rag.generators import GeneratorOptions, create_generator

    generator = create_generator("openai", GeneratorOptions(
        openai_base_url=settings.openai_base_url, openai_model=settings.openai_model,
        openai_api_key=settings.openai_api_key, max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature))
    return Teacher(generator)
