"""The agent: a question or a chat in, tool calls made, an answer composed from their results out.

Two ways to pick tools, one way to run them. The embedded model (`LocalBackend`) selects one tool per
turn by writing a JSON call; a chat model with native tool calling (`ChatModelBackend`, LangChain)
runs a short tool loop. Either way every call goes through `Toolkit.execute` (schema validation, the
chat's customer binding, the write scope, the guarded services).

The local path never guesses. Arguments the message does not support are dropped, or, when required,
count as missing (agent.grounding). A call that fails validation, lacks a required argument or that the
services refuse is shown to the model once with the error; if the second call fails too, the agent asks
a clarifying question instead of running anything.

The answer is composed from tool results: the tool's own template text, or a language model's phrasing
of the same facts when the faithfulness check finds nothing in it that the facts do not say. Personal
data is redacted from everything a model reads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.backends import Backend, ChatModelBackend, LocalBackend
from agent.calls import CallError, parse_call
from agent.faithfulness import check
from agent.grounding import ground
from agent.prompting import ASK_SYSTEM_PROMPT, CHAT_SYSTEM_PROMPT, PHRASE_PROMPT, render
from agent.redact import redact
from agent.tools import Toolkit, ToolResult, utc_now
from core.errors import OfferpilotError
from services.offers import OfferService

MAX_MODEL_CALLS = 5
PHRASED_TOOLS = frozenset({"explain_offer", "recommend_offers", "price_offer"})
CLARIFY = {
    "customer_id": "Which customer do you mean? Please give their customer id.",
    "coupon_id": "Which coupon do you mean? Please give its id or title.",
    "coupon": "Which coupon should the campaign use (an id, a title, or a description such as '10% off home decor')?",
    "budget": "What budget should the campaign have, in pounds?",
    "query": "What should the coupons be about?",
}


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    content: str


@dataclass
class Turn:
    """What one ask or chat produced."""

    answer: str
    results: list[ToolResult] = field(default_factory=list)
    clarification: bool = False
    phrased: bool = False  # the answer is a model's phrasing that passed the faithfulness check
    phrasing_checked: bool | None = None  # the check's verdict on a phrasing, None when none was made
    seconds: float = 0.0

    @property
    def table(self) -> list[dict[str, Any]] | None:
        tables = [r.table for r in self.results if r.table]
        return tables[-1] if tables else None

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [r.record() for r in self.results]

    @property
    def offers(self) -> list[dict[str, Any]]:
        return [offer for r in self.results for offer in r.offers]


@dataclass(frozen=True)
class Event:
    """A step of a turn as it happens: `tool_call` (its record) and finally `turn`."""

    kind: str
    data: Any


class Agent:
    def __init__(
        self,
        backend: Backend,
        service: OfferService,
        clock: Callable[[], datetime] = utc_now,
        phrase: bool | None = None,
    ) -> None:
        """`phrase`: have the local model rephrase explanations (checked, template on failure). Off by
        default: the 135M model's phrasings rarely pass the check (bench/results/agent.md) and each costs
        seconds. Chat-model backends always write their own final message, checked the same way."""
        self.backend = backend
        self.toolkit = Toolkit(service, clock)
        self.phrase = bool(phrase)

    def ask(self, question: str, can_write: bool = False) -> Turn:
        """Answer a marketer's question."""
        return _last(self.events([Message("user", question)], None, can_write))

    def chat(self, customer_id: str, messages: Sequence[Message], can_write: bool = False) -> Turn:
        """Reply to a customer-service conversation, acting only for `customer_id`."""
        return _last(self.events(messages, customer_id, can_write))

    def events(self, messages: Sequence[Message], customer_id: str | None, can_write: bool) -> Iterator[Event]:
        """The turn step by step, for streaming; the last event carries the `Turn`."""
        started = time.perf_counter()
        if not messages or messages[-1].role != "user":
            raise OfferpilotError("the conversation must end with a user message")
        clean = [Message(m.role, redact(m.content)) for m in messages]
        steps = (
            self._local(clean[-1].content, customer_id, can_write)
            if isinstance(self.backend, LocalBackend)
            else self._tool_loop(self.backend, clean, customer_id, can_write)
        )
        results: list[ToolResult] = []
        draft: str | None = None
        clarification: str | None = None
        for step in steps:
            if isinstance(step, ToolResult):
                results.append(step)
                yield Event("tool_call", step.record())
            elif isinstance(step, _Clarify):
                clarification = step.question
            else:
                draft = step
        if clarification is not None:
            turn = Turn(clarification, results, clarification=True)
        else:
            turn = self._compose(results, draft, customer_id)
        turn.seconds = round(time.perf_counter() - started, 3)
        yield Event("turn", turn)

    # --- the embedded model: one validated call ----------------------------------------------------

    def _local(self, text: str, customer_id: str | None, can_write: bool) -> Iterator[ToolResult | _Clarify]:
        assert isinstance(self.backend, LocalBackend)
        prompt = text
        error: CallError | OfferpilotError | None = None
        for _ in range(2):
            try:
                call = ground(parse_call(self.backend.route(prompt, customer_id)), text, customer_id is not None)
                yield self.toolkit.execute(call, customer_id, can_write)
                return
            except (CallError, OfferpilotError) as failure:
                error = failure
                prompt = f"{text}\n(Your previous call was rejected: {failure}. Write the corrected call.)"
        yield _Clarify(_clarifying_question(error))

    # --- chat models with native tool calling (LangChain) ------------------------------------------

    def _tool_loop(
        self, backend: ChatModelBackend, messages: Sequence[Message], customer_id: str | None, can_write: bool
    ) -> Iterator[ToolResult | _Clarify | str]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        tools = {t.name: t for t in self.toolkit.langchain_tools(customer_id, can_write)}
        model = backend.model.bind_tools(list(tools.values()))
        system = render(CHAT_SYSTEM_PROMPT, customer_id=customer_id) if customer_id else render(ASK_SYSTEM_PROMPT)
        convo: list[Any] = [SystemMessage(system)]
        convo += [HumanMessage(m.content) if m.role == "user" else AIMessage(m.content) for m in messages]
        failures: dict[str, int] = {}
        for _ in range(MAX_MODEL_CALLS):
            reply = model.invoke(convo)
            convo.append(reply)
            if not reply.tool_calls:
                yield str(reply.content)
                return
            for call in reply.tool_calls:
                tool = tools.get(call["name"])
                args = dict(call["args"]) | ({"customer_id": customer_id} if customer_id else {})
                if tool is None:
                    yield _Clarify(f"I can't do that here ({call['name']} is not available).")
                    return
                if "customer_id" not in tool.args:
                    args.pop("customer_id", None)
                message = tool.invoke({"type": "tool_call", "name": call["name"], "args": args, "id": call["id"]})
                convo.append(message)
                if message.status == "error":
                    failures[call["name"]] = failures.get(call["name"], 0) + 1
                    if failures[call["name"]] > 1:
                        yield _Clarify(_clarifying_question(CallError(str(message.content))))
                        return
                else:
                    yield message.artifact
        yield _Clarify("I could not finish that in a few steps; could you ask more specifically?")

    # --- composing the answer ----------------------------------------------------------------------

    def _compose(self, results: list[ToolResult], draft: str | None, customer_id: str | None) -> Turn:
        """The template answer, or a phrasing of the same facts that the faithfulness check accepts."""
        if customer_id is None:
            template = " ".join(r.summary for r in results)
            facts = [f for r in results for f in r.facts]
        else:
            template = " ".join(r.customer_reply() for r in results)
            facts = [r.customer_reply() for r in results]
        if not results:
            return Turn(draft or "I could not answer that with the tools I have.", results)
        if draft is None and self.phrase and results[-1].tool in PHRASED_TOOLS:
            audience = "a customer" if customer_id else "a marketer"
            draft = self.backend.complete(
                "You rewrite facts for people.", render(PHRASE_PROMPT, audience=audience, facts="\n".join(facts))
            )
        if not draft:
            return Turn(template, results)
        verdict = check(draft, facts)
        if verdict.faithful and draft.strip():
            return Turn(draft.strip(), results, phrased=True, phrasing_checked=True)
        return Turn(template, results, phrasing_checked=False)


@dataclass(frozen=True)
class _Clarify:
    question: str


def _last(events: Iterator[Event]) -> Turn:
    turn = None
    for event in events:
        turn = event.data
    assert isinstance(turn, Turn)
    return turn


def _clarifying_question(error: CallError | OfferpilotError | None) -> str:
    """Ask for what was missing, or say what the store refused, rather than run a guess."""
    if isinstance(error, OfferpilotError):
        return f"I couldn't do that: {error.detail}. Could you check it and ask again?"
    questions = [CLARIFY[m] for m in getattr(error, "missing", ()) if m in CLARIFY]
    if questions:
        return " ".join(dict.fromkeys(questions))
    return "I'm not sure what you need; could you rephrase, naming the customer, coupon or budget?"
