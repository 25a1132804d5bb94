"""Prometheus metrics: requests and latency per route and status, offers issued, campaign budgets.

Each app has its own registry, so several apps in one process (tests, workers) never clash over metric
names. Budgets are read from the store at scrape time, so they are never stale and cost nothing between
scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import structlog
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from store.db import Database
from store.models import Campaign

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Requests no route matched are counted under one label, so scanners cannot blow up the label set.
UNMATCHED = "unmatched"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

log = structlog.get_logger(__name__)


class CampaignBudgets(Collector):
    """Budget, spent and reserved per campaign, queried when Prometheus scrapes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        try:
            with self.db.session() as session:
                rows = session.execute(select(Campaign.id, Campaign.budget, Campaign.spent, Campaign.reserved)).all()
        except SQLAlchemyError as error:
            # A scrape during a database outage should still return the request metrics.
            log.warning("campaign_metrics_unavailable", error=str(error))
            return
        families = {
            name: GaugeMetricFamily(f"offerpilot_campaign_{name}", help_text, labels=["campaign"])
            for name, help_text in (
                ("budget", "Campaign budget in currency units"),
                ("spent", "Discount paid out on redeemed offers"),
                ("reserved", "Worst-case cost of issued, unredeemed offers"),
            )
        }
        for campaign_id, budget, spent, reserved in rows:
            families["budget"].add_metric([campaign_id], budget)
            families["spent"].add_metric([campaign_id], spent)
            families["reserved"].add_metric([campaign_id], reserved)
        yield from families.values()


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        labels = ("method", "route", "status")
        self.requests = Counter(
            "offerpilot_http_requests", "HTTP requests by route template and status", labels, registry=self.registry
        )
        self.latency = Histogram(
            "offerpilot_http_request_duration_seconds",
            "HTTP request latency by route template and status",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.offers_issued = Counter(
            "offerpilot_offers_issued", "Offers issued (replays not counted)", ("campaign",), registry=self.registry
        )
        self.registry.register(CampaignBudgets(db))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def count_unmatched(self, message: Message, scope: Scope) -> None:
        """`before_send` hook for responses the router gave before any middleware ran (404, 405)."""
        if message["type"] == "http.response.start" and "path_template" not in scope:
            self.requests.labels(scope.get("method", ""), UNMATCHED, str(message["status"])).inc()


class MetricsMiddleware(ASGIMiddleware):
    """Times every routed request, labelled by route template rather than path to bound the label set."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["type"] != "http":
            await next_app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, send_wrapper)
        finally:
            labels: tuple[Any, ...] = (scope["method"], scope["path_template"], str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
