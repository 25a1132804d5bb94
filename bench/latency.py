"""`offerpilot bench latency`: /v1/offers latency and throughput at concurrency 1, 8 and 32.

Runs against a demo server: one you name with --url, or a fresh one it starts in a temporary data
directory (SQLite) and, with --postgres-url, a second one on PostgreSQL, side by side. `GET /healthz`
is measured the same way as the floor the framework and HTTP stack set. The demo campaign's budget is
raised first so that every request does the full work of issuing offers rather than finding the
budget spent.

Offers are measured twice on SQLite: `uncached`, on a server whose customer-embedding cache is off
(every request encodes the history, the worst case: a customer never seen or just active), and
`cached`, after one request per customer has filled the cache (a customer asking again with nothing new).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.report import RESULTS_DIR, markdown_table, print_table, write_results
from store.db import recreate_public_schema

BENCH_KEY = "bench-key"
COLUMNS = ("method", "concurrency", "requests", "errors", "p50_ms", "p95_ms", "p99_ms", "throughput_rps")


@dataclass
class LatencyConfig:
    url: str | None = None
    api_key: str = BENCH_KEY
    postgres_url: str | None = None
    concurrency: tuple[int, ...] = (1, 8, 32)
    requests_per_level: int = 300
    warmup: int = 20
    out_dir: Path = RESULTS_DIR
    rows: list[dict] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def demo_server(database_url: str | None = None, cache: bool = True) -> Iterator[str]:
    """Start `offerpilot demo` in a temporary data directory and yield its base URL."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="offerpilot-bench-") as data_dir:
        env = os.environ | {"OFFERPILOT_DATA_DIR": data_dir, "OFFERPILOT_API_KEYS": f"{BENCH_KEY}:admin"}
        if database_url:
            env["OFFERPILOT_DATABASE_URL"] = database_url
        if not cache:
            env["OFFERPILOT_EMBEDDING_CACHE_ENTRIES"] = "0"
        log = open(Path(data_dir) / "server.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen(
            [sys.executable, "-m", "offerpilot", "demo", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(base, process, Path(data_dir) / "server.log")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def _wait_until_healthy(base: str, process: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"demo server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    raise TimeoutError(f"demo server at {base} not healthy after {timeout:.0f} s")


def _prepare(base: str, key: str) -> list[str]:
    """Raise every campaign's budget and caps, and return the customer ids to ask for."""
    headers = {"X-API-Key": key}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for campaign in client.get("/v1/campaigns").raise_for_status().json()["items"]:
            body = {
                k: campaign[k]
                for k in ("id", "name", "max_discount_per_order", "holdout_share", "starts_at", "ends_at")
                if campaign.get(k) is not None
            }
            client.post("/v1/campaigns", json=body | {"budget": 1e9, "per_customer_cap": 1e9}).raise_for_status()
        page = client.get("/v1/customers", params={"limit": 500}).raise_for_status().json()
    return [c["id"] for c in page["items"]]


async def _load(base: str, key: str, method: str, customers: list[str], concurrency: int, n: int) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            start = time.perf_counter()
            if method == "healthz":
                response = await client.get("/healthz")
            else:
                response = await client.post("/v1/offers", json={"customer_id": customers[i % len(customers)]})
            latencies.append((time.perf_counter() - start) * 1000)
            errors += response.status_code >= 400

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    values = np.array(latencies)
    return {
        "concurrency": concurrency,
        "requests": n,
        "errors": errors,
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "throughput_rps": round(n / wall, 1),
    }


def measure(base: str, label: str, config: LatencyConfig, methods: tuple[str, ...], cached: bool) -> list[dict]:
    """Rows `METHOD_LABEL` per concurrency level; with `cached`, every customer is asked once first."""
    customers = _prepare(base, config.api_key)
    rows = []
    for method in methods:
        warmup = len(customers) if cached and method == "offers" else config.warmup
        asyncio.run(_load(base, config.api_key, method, customers, 8, warmup))
        for concurrency in config.concurrency:
            result = asyncio.run(_load(base, config.api_key, method, customers, concurrency, config.requests_per_level))
            rows.append({"method": f"{method}_{label}", **result})
            print_table(f"{method} on {label}, concurrency {concurrency}", [rows[-1]], COLUMNS)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        xs = [r["concurrency"] for r in mine]
        left.plot(xs, [r["p99_ms"] for r in mine], marker="o", label=f"{method} p99")
        left.plot(xs, [r["p50_ms"] for r in mine], marker=".", linestyle="--", label=f"{method} p50")
        right.plot(xs, [r["throughput_rps"] for r in mine], marker="o", label=method)
    left.axhline(20, color="grey", linestyle=":", label="p99 aim 20 ms")
    left.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="latency (ms)", title="Latency")
    right.set(xscale="log", xlabel="concurrent clients", ylabel="requests / s", title="Throughput")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(config: LatencyConfig) -> dict:
    load_before = os.getloadavg()[0]
    rows: list[dict] = []
    if config.url:
        rows += measure(config.url, "server", config, ("healthz", "offers"), cached=False)
    else:
        with demo_server(cache=False) as base:
            rows += measure(base, "sqlite", config, ("healthz",), cached=False)
            rows += measure(base, "sqlite_uncached", config, ("offers",), cached=False)
        with demo_server() as base:
            rows += measure(base, "sqlite_cached", config, ("offers",), cached=True)
        if config.postgres_url:
            recreate_public_schema(config.postgres_url)
            with demo_server(config.postgres_url) as base:
                rows += measure(base, "postgresql_cached", config, ("offers",), cached=True)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    plot(rows, config.out_dir / "latency.png")
    offers = [r for r in rows if r["method"].startswith("offers")]
    worst = max(offers, key=lambda r: r["p99_ms"])
    summary = f"""# Latency of `POST /v1/offers`

{markdown_table(rows, COLUMNS)}

Measured with `offerpilot bench latency` on {os.cpu_count()} CPU cores, one server process, client and
server on the same machine, 1-minute load average {load_before:.1f} when it started ({config.requests_per_level}
requests per level after {config.warmup} warm-up requests, or, for `*_cached` rows, one request per customer;
each offer request loads the profile, encodes the customer's history (unless cached), searches FAISS,
ranks, prices, explains and writes offers in one transaction). `healthz_*` rows are the floor of the HTTP
stack. `*_uncached` rows run with the customer-embedding cache off; `*_cached` rows after every customer
was asked once, so the history vector comes from the cache (a new event would invalidate it).

The product aims at p99 ≤ 20 ms on 2 cores. Worst offers p99 here: {worst["p99_ms"]} ms
({worst["method"]} at concurrency {worst["concurrency"]}).

![latency](latency.png)
"""
    meta = {"requests_per_level": config.requests_per_level, "load_average_at_start": load_before}
    write_results("latency", {"rows": rows, "config": meta}, summary, config.out_dir)
    return {"rows": rows}
