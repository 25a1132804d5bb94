"""Prompt templates (versioned files in prompts/) and the exact text the local model reads and writes.

Fine-tuning, serving and the benchmark all build the router's input and target here, so the tuned
model is always asked in the form it was trained on. A template's version is part of its file name
(`router.v1.txt`); changing a prompt means adding a new version and pointing the constant at it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from agent.schemas import TOOLS
from core.config import PROMPTS_DIR

ROUTER_PROMPT = "router.v1"
PHRASE_PROMPT = "phrase.v1"
ASK_SYSTEM_PROMPT = "ask_system.v1"
CHAT_SYSTEM_PROMPT = "chat_system.v1"

# The local model's answer starts with this text, written by us rather than generated: it fixes the
# shape of the reply and saves the first tokens of every turn.
CALL_PREFIX = '{"tool": "'


@lru_cache(maxsize=16)
def load(name: str) -> str:
    """The text of prompts/NAME.txt, without its final newline."""
    return (PROMPTS_DIR / f"{name}.txt").read_text().rstrip("\n")


def render(name: str, **values: str) -> str:
    """Fill `{key}` slots of a template; other braces (JSON in the text) are left alone."""
    text = load(name)
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def router_system() -> str:
    """The system prompt of the local router: the rules and one line per tool."""
    return render(ROUTER_PROMPT, tools="\n".join(spec.signature for spec in TOOLS.values()))


def router_user(text: str, customer_id: str | None = None) -> str:
    """A marketer's question as it is, or a chat message tagged with the conversation's customer."""
    return text if customer_id is None else f"Customer {customer_id} says: {text}"


def render_call(tool: str, args: dict[str, Any]) -> str:
    """The canonical JSON of a tool call, the fine-tuning target."""
    compact = {k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in args.items()}
    return json.dumps({"tool": tool, "args": compact}, ensure_ascii=False)


def chat_markup(system: str, user: str, answer_start: str = CALL_PREFIX) -> tuple[str, str]:
    """SmolLM2's chat format split in two: the system turn (shared by every request, so its attention
    cache is computed once) and the user turn up to the forced start of the answer."""
    prefix = f"<|im_start|>system\n{system}<|im_end|>\n"
    suffix = f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{answer_start}"
    return prefix, suffix


END_OF_TURN = "<|im_end|>"
