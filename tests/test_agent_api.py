"""`POST /v1/ask` and `POST /v1/chat` over the real store: scopes, validation, the response contract and
server-sent events. The agent here is driven by the scripted chat model of test_agent_core (no server
can run here); test_agent_llm runs the endpoints with the real local model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from litestar.testing import TestClient

from api.app import create_app
from core.config import Settings
from services.offers import OfferService
from tests.conftest import NOW
from tests.test_agent_core import scripted_agent, tool_call

KEYS = "admin-key:admin,agent-key:agent:use,reader-key:catalog:read"
AGENT = {"X-API-Key": "agent-key"}


def make_client(service: OfferService, data_dir: Path, *replies: AIMessage) -> TestClient:
    settings = Settings(data_dir=data_dir, database_url=service.db.url, api_keys=KEYS)
    app = create_app(settings, service=service, clock=lambda: NOW)
    app.state["agent"] = scripted_agent(service, *replies)[0]
    return TestClient(app)


@pytest.fixture
def client(service: OfferService, tmp_path: Path) -> Iterator[TestClient]:
    with make_client(
        service,
        tmp_path,
        tool_call("find_segment", lapsed_days=90),
        AIMessage("1 customer has not ordered for 90 days."),
    ) as test_client:
        yield test_client


def test_ask_needs_the_agent_scope(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "who lapsed?"}, headers={"X-API-Key": "reader-key"})
    assert response.status_code == 403 and "agent:use" in response.json()["detail"]


def test_ask_answers_with_table_and_tool_calls(client: TestClient) -> None:
    response = client.post("/v1/ask", json={"question": "Who has not ordered for 90 days?"}, headers=AGENT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "1 customer has not ordered for 90 days."
    assert [row["customer_id"] for row in body["table"]] == ["lapsed-baker"]
    assert body["tool_calls"][0]["tool"] == "find_segment"
    assert body["tool_calls"][0]["args"]["lapsed_days"] == 90
    assert "1 customer match" in body["tool_calls"][0]["result_summary"]


def test_chat_for_an_unknown_customer_is_a_404(client: TestClient) -> None:
    body = {"customer_id": "nobody", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat", json=body, headers=AGENT)
    assert response.status_code == 404 and response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        [{"role": "x", "content": "a"}],
    ],
)
def test_chat_bodies_are_validated(client: TestClient, messages: list) -> None:
    response = client.post("/v1/chat", json={"customer_id": "candle-fan", "messages": messages}, headers=AGENT)
    assert response.status_code == 422


def test_chat_replies_with_proposed_offers(service: OfferService, tmp_path: Path) -> None:
    with make_client(service, tmp_path, tool_call("recommend_offers"), AIMessage("Here you go: 99% off!")) as client:
        body = {"customer_id": "candle-fan", "messages": [{"role": "user", "content": "any discount for me?"}]}
        response = client.post("/v1/chat", json=body, headers=AGENT)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert set(reply) == {"reply", "proposed_offers", "tool_calls"}
    assert reply["proposed_offers"] and all(o["offer_id"] is None for o in reply["proposed_offers"])
    assert "99%" not in reply["reply"]  # the unfaithful phrasing was replaced by the template


def test_chat_streams_server_sent_events(service: OfferService, tmp_path: Path) -> None:
    with make_client(
        service, tmp_path, tool_call("customer_profile"), AIMessage("You have placed 8 orders.")
    ) as client:
        body = {"customer_id": "candle-fan", "messages": [{"role": "user", "content": "my orders?"}], "stream": True}
        with client.stream("POST", "/v1/chat", json=body, headers=AGENT) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            text = "".join(response.iter_text())
    events = [block for block in text.split("\r\n\r\n") if block.strip()]
    kinds = [next(line[7:] for line in block.splitlines() if line.startswith("event: ")) for block in events]
    assert kinds == ["tool_call", "reply"]
    reply = json.loads(next(line[6:] for line in events[-1].splitlines() if line.startswith("data: ")))
    assert reply["reply"] == "You have placed 8 orders."


def test_the_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    assert "/v1/ask" in paths and "/v1/chat" in paths
