"""`/v1/ask` and `/v1/chat`: the agent over HTTP, with the tool calls it made.

Both need the `agent:use` scope. The agent may issue offers only for a key that also holds
`offers:write` (or `admin`); otherwise it proposes them. `/v1/chat` streams server-sent events
(`tool_call` as each tool runs, then `reply`) when the client sends `Accept: text/event-stream` or
`"stream": true`.

The agent (and its language model, seconds to load) is built on first use and kept in the app state;
a test or an embedding application can put its own there first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any, Literal, Self

from litestar import Request, Response, Router, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.response import ServerSentEvent, ServerSentEventMessage
from pydantic import BaseModel, Field, model_validator

from agent.backends import build_backend
from agent.core import Agent, Message, Turn
from api.auth import API_KEY_HEADER, Scope, needs
from api.errors import problem_responses
from api.runtime import Runtime
from core.errors import OfferpilotError
from services import catalog
from store.schemas import Identifier, Record

_BUILD = threading.Lock()


class AskBody(Record):
    question: str = Field(min_length=1, max_length=2000)


class ChatMessageBody(Record):
    role: Literal["user", "assistant"]
    content: str = Field(min_length=1, max_length=4000)


class ChatBody(Record):
    customer_id: Identifier
    messages: list[ChatMessageBody] = Field(min_length=1, max_length=50)
    stream: bool = False

    @model_validator(mode="after")
    def _ends_with_user(self) -> Self:
        if self.messages[-1].role != "user":
            raise ValueError("the last message must be the customer's (role 'user')")
        return self


class ToolCallOut(BaseModel):
    tool: str
    args: dict[str, Any]
    result_summary: str


class AskOut(BaseModel):
    answer: str
    table: list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallOut]

    @classmethod
    def of(cls, turn: Turn) -> AskOut:
        return cls(answer=turn.answer, table=turn.table, tool_calls=turn.tool_calls)


class ChatOut(BaseModel):
    reply: str
    proposed_offers: list[dict[str, Any]]
    tool_calls: list[ToolCallOut]

    @classmethod
    def of(cls, turn: Turn) -> ChatOut:
        return cls(reply=turn.answer, proposed_offers=turn.offers, tool_calls=turn.tool_calls)


def get_agent(state: State, runtime: Runtime) -> Agent:
    """The app's agent, built from `OFFERPILOT_LLM` on first use."""
    with _BUILD:
        if state.get("agent") is None:
            state["agent"] = Agent(build_backend(runtime.settings.llm), runtime.service, runtime.clock)
    return state["agent"]


def _can_write(request: Request[Any, Any, Any], runtime: Runtime) -> bool:
    scopes = runtime.keys.scopes_of(request.headers.get(API_KEY_HEADER, "")) or frozenset()
    return Scope.ADMIN in scopes or Scope.OFFERS_WRITE in scopes


@post("/ask", opt=needs(Scope.AGENT_USE), sync_to_thread=True, status_code=200, responses=problem_responses(401, 403))
def ask(data: JSONBody[AskBody], request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]) -> AskOut:
    """Answer a marketer's question: the answer, the table behind it and the tool calls that produced it."""
    agent = get_agent(request.app.state, runtime)
    return AskOut.of(agent.ask(data.question, can_write=_can_write(request, runtime)))


@post(
    "/chat",
    opt=needs(Scope.AGENT_USE),
    sync_to_thread=True,
    status_code=200,
    responses=problem_responses(401, 403, 404),
)
def chat(
    data: JSONBody[ChatBody], request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[ChatOut] | ServerSentEvent:
    """Reply to a customer-service chat, proposing offers within the customer's eligibility and the
    campaign's budget and caps, whatever the chat says."""
    catalog.customer_profile(runtime.db, data.customer_id, runtime.clock())  # 404 before any model work
    agent = get_agent(request.app.state, runtime)
    messages = [Message(m.role, m.content) for m in data.messages]
    can_write = _can_write(request, runtime)
    if data.stream or "text/event-stream" in request.headers.get("accept", ""):
        return ServerSentEvent(_stream(agent, data.customer_id, messages, can_write))
    return Response(ChatOut.of(agent.chat(data.customer_id, messages, can_write=can_write)))


def _stream(agent: Agent, customer_id: str, messages: list[Message], can_write: bool) -> Iterator[Any]:
    try:
        for event in agent.events(messages, customer_id, can_write):
            if event.kind == "tool_call":
                yield ServerSentEventMessage(event="tool_call", data=json.dumps(event.data, default=str))
            else:
                yield ServerSentEventMessage(event="reply", data=ChatOut.of(event.data).model_dump_json())
    except OfferpilotError as error:
        yield ServerSentEventMessage(event="error", data=json.dumps({"status": error.status, "detail": error.detail}))


router = Router("/", route_handlers=[ask, chat], tags=["agent"])
