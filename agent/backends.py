"""LLM backends chosen by `OFFERPILOT_LLM`.

- `local` (default): the embedded SmolLM2-135M-Instruct with the project's LoRA adapter; `local:base`
  without the adapter. A 135M model cannot drive a free-form tool-use loop, so it only *selects* a tool:
  it writes one JSON call, which the agent validates (see agent/core.py).
- `openai:MODEL@BASE_URL`: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama's /v1) through
  langchain-openai, with native tool calling. The key comes from `OFFERPILOT_LLM_API_KEY` (or
  `OPENAI_API_KEY`); local servers accept any.
- `ollama:MODEL` or `ollama:MODEL@BASE_URL`: Ollama's own API through langchain-ollama.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from agent.llm_local import ADAPTER_DIR, GREEDY, LocalLLM, Sampling
from agent.prompting import CALL_PREFIX, chat_markup, router_system, router_user

ROUTER_MAX_TOKENS = 72
PHRASE_MAX_TOKENS = 60
OLLAMA_DEFAULT_URL = "http://127.0.0.1:11434"


@dataclass
class LocalBackend:
    """The embedded model as a tool router and a phraser."""

    llm: LocalLLM
    sampling: Sampling = GREEDY

    @property
    def name(self) -> str:
        return "local" if self.llm.tuned else "local:base"

    def route(self, text: str, customer_id: str | None = None) -> str:
        """The model's tool call for a (redacted) message, as JSON text."""
        prefix, suffix = chat_markup(router_system(), router_user(text, customer_id))
        text = self.llm.continue_text(prefix, suffix, ROUTER_MAX_TOKENS, self.sampling, done=_call_complete)
        return CALL_PREFIX + text

    def complete(self, system: str, user: str) -> str:
        """Free text from the released instruct model (the adapter off): used to phrase facts."""
        prefix, suffix = chat_markup(system, user, answer_start="")
        return self.llm.continue_text(prefix, suffix, PHRASE_MAX_TOKENS, self.sampling, adapter=False).strip()


@dataclass
class ChatModelBackend:
    """A LangChain chat model with native tool calling (OpenAI-compatible or Ollama)."""

    model: Any  # langchain_core BaseChatModel
    name: str

    def complete(self, system: str, user: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        reply = self.model.invoke([SystemMessage(system), HumanMessage(user)])
        return str(reply.content).strip()


Backend = LocalBackend | ChatModelBackend


def _call_complete(generated: str) -> bool:
    return json_complete(CALL_PREFIX + generated)


def json_complete(text: str) -> bool:
    """Whether `text` holds a complete top-level JSON object (braces balanced outside strings)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return True
    return False


def parse_setting(setting: str) -> tuple[str, str | None, str | None]:
    """(kind, model, base URL) from an `OFFERPILOT_LLM` value; a malformed value is an error, not a guess."""
    value = setting.strip()
    if value in ("", "local"):
        return "local", None, None
    if value == "local:base":
        return "local:base", None, None
    kind, _, rest = value.partition(":")
    model, _, url = rest.partition("@")
    if kind == "openai" and model and url:
        return "openai", model, url
    if kind == "ollama" and model:
        return "ollama", model, url or os.environ.get("OLLAMA_HOST", OLLAMA_DEFAULT_URL)
    raise ValueError(
        f"OFFERPILOT_LLM={setting!r} is not one of: local, local:base, openai:MODEL@BASE_URL, ollama:MODEL[@BASE_URL]"
    )


def build_backend(setting: str, threads: int | None = None) -> Backend:
    """The backend an `OFFERPILOT_LLM` value names; the local model loads here (seconds)."""
    kind, model, url = parse_setting(setting)
    if kind == "local":
        return LocalBackend(LocalLLM(ADAPTER_DIR, threads=threads))
    if kind == "local:base":
        return LocalBackend(LocalLLM(None, threads=threads))
    if kind == "openai":
        from langchain_openai import ChatOpenAI

        key = os.environ.get("OFFERPILOT_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "not-needed"
        return ChatModelBackend(ChatOpenAI(model=model, base_url=url, api_key=key, temperature=0), f"openai:{model}")
    from langchain_ollama import ChatOllama

    return ChatModelBackend(ChatOllama(model=model, base_url=url, temperature=0), f"ollama:{model}")
