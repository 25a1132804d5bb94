"""Tool calls as data: parse what a model wrote, validate it against the tool's schema, say what is wrong.

Every backend ends here. The local model writes JSON text; an OpenAI-compatible model returns
structured tool calls; both become a `ToolCall` and pass the same `validate`, whose error message is
what the model is shown when it gets a second try.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agent.schemas import TOOLS, ToolArgs


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict[str, Any] = field(default_factory=dict)


class CallError(ValueError):
    """A call that cannot run as written; `missing` names required arguments the message did not give."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


def parse_call(text: str) -> ToolCall:
    """The first JSON object in `text` as a tool call; tolerant of trailing chatter, not of bad JSON."""
    start = text.find("{")
    if start < 0:
        raise CallError('no JSON object: reply with {"tool": NAME, "args": {...}}')
    try:
        data, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as error:
        raise CallError(f"invalid JSON ({error.msg})") from error
    if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
        raise CallError('the JSON must have a "tool" name')
    args = data.get("args", {})
    if not isinstance(args, dict):
        raise CallError('"args" must be an object')
    return ToolCall(data["tool"].strip(), args)


def validate(call: ToolCall, allowed: frozenset[str] | None = None) -> ToolArgs:
    """The call's arguments as its tool's model, or a `CallError` saying exactly what to fix."""
    spec = TOOLS.get(call.tool)
    if spec is None or (allowed is not None and call.tool not in allowed):
        names = ", ".join(sorted(allowed if allowed is not None else TOOLS))
        raise CallError(f"unknown tool {call.tool!r}; tools are: {names}")
    try:
        return spec.args.model_validate(call.args)
    except ValidationError as error:
        missing = tuple(str(e["loc"][0]) for e in error.errors() if e["type"] == "missing")
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {_message(e)}" for e in error.errors())
        raise CallError(f"{call.tool} arguments invalid: {problems}", missing) from error


def _message(error: Any) -> str:
    return re.sub(r"^Value error, ", "", str(error["msg"]))
