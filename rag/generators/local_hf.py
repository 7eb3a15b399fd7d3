"""A transformers causal LM loaded from a local directory, optionally with a peft LoRA adapter.

The prompt goes through the tokenizer's chat template when it has one (instruction-tuned models are
trained on it); otherwise system and user text are joined plainly. Tokens are streamed with
``TextIteratorStreamer`` while ``model.generate`` runs in a worker thread.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Iterator

from ipqa.errors import ConfigError
from rag.generators.errors import GeneratorError
from rag.protocols import Prompt

_NO_LIMIT = 10**9  # tokenizers without a stated limit report model_max_length = 1e30


def render_chat(tokenizer: Any, system: str, user: str) -> str:
    """The text a model reads for a prompt, up to where its answer starts: the tokenizer's chat
    template when it has one, else system and user joined plainly. Fine-tuning (``sft.train``)
    renders its prompts with this too, so a model is trained on exactly what it is served."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{system}\n\n{user}\n"


class LocalHfGenerator:
    name = "local"

    def __init__(
        self,
        model_path: Path | str,
        *,
        lora_path: Path | str | None = None,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        device: str = "auto",
    ) -> None:
        self.model_path = Path(model_path)
        self.lora_path = Path(lora_path) if lora_path else None
        if not self.model_path.is_dir():
            raise ConfigError(f"llm_path {str(self.model_path)!r} is not a model directory")
        if self.lora_path is not None and not (self.lora_path / "adapter_config.json").is_file():
            raise ConfigError(f"lora_path {str(self.lora_path)!r} has no adapter_config.json")
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    # -- loading ---------------------------------------------------------------------------------

    def _resolve_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loaded once; thread-safe."""
        with self._lock:
            if self._model is None:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                try:
                    tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
                    model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True)
                    if self.lora_path is not None:
                        from peft import PeftModel

                        model = PeftModel.from_pretrained(model, self.lora_path, is_trainable=False)
                except (OSError, ValueError) as exc:
                    raise GeneratorError(
                        f"cannot load the local model {str(self.model_path)!r}"
                        f"{f' with adapter {str(self.lora_path)!r}' if self.lora_path else ''}: {exc}"
                    ) from exc
                model.to(self._resolve_device())
                model.eval()
                self._model, self._tokenizer = model, tokenizer
            return self._model, self._tokenizer

    # -- prompting -------------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> str:
        """The exact text fed to the model."""
        _, tokenizer = self.load()
        return render_chat(tokenizer, prompt.system, prompt.user)

    def _encode(self, tokenizer: Any, prompt: Prompt) -> Any:
        # A chat template already holds the special tokens; adding them again would double BOS.
        return tokenizer(
            self.render(prompt),
            return_tensors="pt",
            add_special_tokens=not getattr(tokenizer, "chat_template", None),
        )

    def count_prompt_tokens(self, prompt: Prompt) -> int:
        _, tokenizer = self.load()
        return int(self._encode(tokenizer, prompt)["input_ids"].shape[-1])

    def context_length(self) -> int | None:
        """The most tokens the model reads: ``max_position_embeddings`` (``n_positions`` of GPT-2)
        or the tokenizer's ``model_max_length``, the smaller one; None when neither is stated
        (tokenizers without a limit report a huge sentinel, 1e30)."""
        model, tokenizer = self.load()
        config = getattr(model, "config", None)
        limits = [
            getattr(config, "max_position_embeddings", None),
            getattr(tokenizer, "model_max_length", None),
        ]
        known = [int(n) for n in limits if isinstance(n, int) and 0 < n < _NO_LIMIT]
        return min(known) if known else None

    def prompt_token_budget(self) -> int | None:
        """Tokens left for the prompt once ``max_new_tokens`` are reserved for the answer."""
        context = self.context_length()
        if context is None:
            return None
        if context <= self.max_new_tokens:
            raise ConfigError(
                f"max_new_tokens {self.max_new_tokens} leaves no room for a prompt: the model "
                f"{str(self.model_path)!r} reads at most {context} tokens"
            )
        return context - self.max_new_tokens

    def generate(self, prompt: Prompt) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: Prompt) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        model, tokenizer = self.load()
        inputs = self._encode(tokenizer, prompt)
        budget = self.prompt_token_budget()
        length = int(inputs["input_ids"].shape[-1])
        if budget is not None and length > budget:
            # Fail with the numbers rather than with an index error deep inside the model; the
            # answering pipeline fits prompts first (rag.prompts.fit_prompt), so this is a caller
            # that did not.
            raise GeneratorError(
                f"the prompt is {length} tokens; the local model {str(self.model_path)!r} leaves "
                f"{budget} for it ({self.max_new_tokens} of its context are reserved for the answer)"
            )
        device = next(model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        kwargs: dict[str, Any] = dict(inputs, streamer=streamer, max_new_tokens=self.max_new_tokens)
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            kwargs.update(do_sample=False)
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
            kwargs["pad_token_id"] = tokenizer.eos_token_id
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the consumer's thread below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name="ipqa-local-generate", daemon=True)
        worker.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        finally:
            worker.join()
        if failure:
            raise GeneratorError(
                f"local model {str(self.model_path)!r} failed to generate: {failure[0]}"
            ) from failure[0]
