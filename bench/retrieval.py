"""`offerpilot bench retrieval`: next-basket retrieval on Online Retail, and FAISS speed at 10k-1M vectors.

Protocol (retrieval.splits): models train on baskets before 2011-09-01; September (each customer's
first basket that month, history before it) chooses hyperparameters, epochs and trains the re-ranker;
October is scored once, at the end, and never chooses anything. For each October case every product
sold before October is ranked (full ranking, no sampled negatives) and Recall@10, NDCG@10, MRR and
catalogue coverage are averaged (retrieval.metrics).

Methods, side by side: `popularity` (baskets in the last N days), `repeat` (recency-weighted repeat
purchase), `itemknn` (co-purchase cosine), `bm25` (bm25s over product descriptions, query = history
text), `minilm` (base encoder: history text vs product text), `minilm_lora` (the committed adapter),
`sasrec` (causal Transformer, full softmax) and `pipeline`: the tuned encoder's top candidates (joined by the
customer's past products when that wins on held-out September customers) re-ranked by LambdaRank on every
feature (retrieval.features), trained on September with features from before September, applied to October
with features from before October. `pipeline_profile` is the same on the features the offer flow can
compute per request; it is the model `--save-ranker` commits for `/v1/offers`.

Speed: encoding throughput of the tuned encoder, then FAISS build time, single-query latency (one
thread, as under concurrent requests) and recall@10 against exact search at 10k, 100k and 1M vectors.
Large sizes use synthetic vectors: real product embeddings plus Gaussian noise, renormalised, so they
keep the clustered shape of real embeddings; the queries are real customer-history embeddings.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.report import RESULTS_DIR, markdown_table, print_table, write_results
from retrieval.cache import EmbeddingCache
from retrieval.datasets import ONLINE_RETAIL, RetailData, default_cache_dir
from retrieval.ltr import LambdaRankConfig, RankerModel
from retrieval.sasrec import SASRecConfig
from retrieval.splits import TEST_END, TRAIN_END, VALID_END, Case

QUALITY_COLUMNS = ("method", "ndcg@10", "recall@10", "mrr", "coverage")
SPEED_COLUMNS = ("n", "index", "build_s", "p50_ms", "p99_ms", "recall_vs_exact", "memory_mb")
CPU_COLUMNS = ("p50_cpu_ms", "p99_cpu_ms")
RANKER_DIR = Path(__file__).resolve().parents[1] / "retrieval" / "artifacts" / "ranker"


@dataclass
class RetrievalBenchConfig:
    data_path: Path = ONLINE_RETAIL
    out_dir: Path = RESULTS_DIR
    cache_dir: Path | None = None
    adapter: Path | None = None  # default: the committed adapter
    seed: int = 13
    threads: int = 2
    # chosen on September among these (never on October)
    popularity_windows: tuple[int, ...] = (7, 30, 90)
    half_lives: tuple[float, ...] = (30.0, 60.0, 120.0, 365.0)
    candidates: int = 200
    sasrec: SASRecConfig = field(default_factory=SASRecConfig)
    ltr: LambdaRankConfig = field(default_factory=LambdaRankConfig)
    speed_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    speed_queries: int = 1_000
    efforts: dict = field(default_factory=lambda: {"flat": (None,), "hnsw": (64, 128, 256), "ivf": (10, 20, 40)})
    save_ranker: bool = False


@dataclass
class Month:
    """One evaluation month: its cases and what was known at its start."""

    cases: list[Case]
    allowed: np.ndarray  # products sold before the month
    prior: np.ndarray  # 30-day popularity, the shared tie-break
    past: list
    targets: list[tuple[int, ...]]


def run(config: RetrievalBenchConfig) -> dict:
    import faiss
    import torch

    torch.set_num_threads(config.threads)
    faiss.omp_set_num_threads(config.threads)
    from retrieval.categories import categorize
    from retrieval.datasets import load_retail

    cache_dir = config.cache_dir or default_cache_dir()
    data = load_retail(config.data_path, categorize, cache_dir)
    months = {"valid": _month(data, TRAIN_END, VALID_END), "test": _month(data, VALID_END, TEST_END)}
    print(
        f"{len(data.catalogue)} products, {len(data.baskets)} baskets; "
        f"September {len(months['valid'].cases)} cases, October {len(months['test'].cases)} cases"
    )
    quality = Quality(config, data, months, cache_dir)
    rows, notes = quality.run()
    print_table("Next-basket retrieval, October 2011 (full ranking)", rows, QUALITY_COLUMNS)
    speed = measure_speed(quality.lora_items, quality.lora_histories["test"], config)
    print_table("FAISS speed (single-query latency, one thread)", speed, SPEED_COLUMNS)
    encoding = quality.encoding_throughput()
    plot(rows, speed, config.out_dir / "retrieval.png")
    summary = _summary(rows, speed, notes, encoding, config)
    write_results(
        "retrieval", {"rows": rows, "speed": speed, "encoding": encoding, "notes": notes}, summary, config.out_dir
    )
    return {"rows": rows, "speed": speed}


def _month(data: RetailData, start, end) -> Month:
    from retrieval.baselines import popularity
    from retrieval.splits import known_items, next_basket_cases

    past = data.before(start)
    cases = next_basket_cases(data, start, end)
    prior = popularity(past, len(data.catalogue), start, 30)
    return Month(cases, known_items(past, len(data.catalogue)), prior, past, [c.target.items for c in cases])


class Quality:
    """Scores every method on the test month, choosing whatever it chooses on the validation month."""

    def __init__(self, config: RetrievalBenchConfig, data: RetailData, months: dict[str, Month], cache_dir: Path):
        self.config, self.data, self.months, self.cache_dir = config, data, months, cache_dir
        self.notes: dict = {}

    def evaluate(self, month: str, scores: np.ndarray):
        from retrieval.metrics import evaluate

        m = self.months[month]
        return evaluate(scores, m.targets, m.allowed, m.prior)

    def choose(self, name: str, options, scorer) -> object:
        """The option with the best September NDCG@10; the choice and its scores go into the notes."""
        results = {str(o): self.evaluate("valid", scorer("valid", o)).ndcg for o in options}
        best = max(options, key=lambda o: results[str(o)])
        self.notes[f"{name}_valid_ndcg@10"] = {k: round(v, 4) for k, v in results.items()}
        self.notes[f"{name}_chosen"] = best
        return best

    def run(self) -> tuple[list[dict], dict]:
        from retrieval.baselines import bm25, co_purchase, customer_knn, history_weights, item_knn, popularity
        from retrieval.splits import case_text
        from retrieval.texts import product_text

        data, n = self.data, len(self.data.catalogue)
        months = self.months
        rows = []

        def popular(month: str, window: int) -> np.ndarray:
            m = months[month]
            return np.tile(popularity(m.past, n, m.cases[0].as_of, window), (len(m.cases), 1))

        window = self.choose("popularity_window_days", self.config.popularity_windows, popular)
        rows.append(self.evaluate("test", popular("test", window)).row("popularity"))

        weights = {}

        def repeat(month: str, half_life: float) -> np.ndarray:
            weights[month, half_life] = history_weights(months[month].cases, n, half_life)
            return weights[month, half_life]

        self.half_life = self.choose("repeat_half_life_days", self.config.half_lives, repeat)
        rows.append(self.evaluate("test", repeat("test", self.half_life)).row("repeat"))

        self.co_purchase = {name: co_purchase(m.past, n) for name, m in months.items()}
        self.knn = {name: item_knn(weights[name, self.half_life], self.co_purchase[name]) for name in months}
        self.uknn = {name: customer_knn(m.cases, m.past, n, self.half_life) for name, m in months.items()}
        rows.append(self.evaluate("test", self.knn["test"]).row("itemknn"))

        self.texts = {name: [case_text(c, data) for c in m.cases] for name, m in months.items()}
        rows.append(self.evaluate("test", bm25(self.texts["test"], data.catalogue.descriptions)).row("bm25"))

        products = [
            product_text(d, c) for d, c in zip(data.catalogue.descriptions, data.catalogue.categories, strict=True)
        ]
        from retrieval.encoder import DEFAULT_ADAPTER, Encoder

        self.lora = Encoder(self.config.adapter or DEFAULT_ADAPTER)
        # The same text, cut at the same length: the only difference left is the adapter.
        base = Encoder(max_seq_length=self.lora.max_seq_length)
        self.notes["base_encoder"] = base.version
        base_items = self.embed_products(base, products)
        base_histories = self.embed_histories(base, "test")
        rows.append(self.evaluate("test", base_histories @ base_items.T).row("minilm"))
        del base

        self.notes["encoder"] = self.lora.version
        self.lora_items = self.embed_products(self.lora, products)
        self.lora_histories = {name: self.embed_histories(self.lora, name) for name in months}
        self.similarity = {name: self.lora_histories[name] @ self.lora_items.T for name in months}
        rows.append(self.evaluate("test", self.similarity["test"]).row("minilm_lora"))

        self.sasrec = self.train_sasrec()
        rows.append(self.evaluate("test", self.sasrec["test"]).row("sasrec"))

        from retrieval.features import CATALOGUE_FEATURES, FEATURES

        _, full_scores = self.pipeline("pipeline", FEATURES + CATALOGUE_FEATURES)
        rows.append(self.evaluate("test", full_scores).row("pipeline"))
        profile, profile_scores = self.pipeline("pipeline_profile", FEATURES)
        rows.append(self.evaluate("test", profile_scores).row("pipeline_profile"))
        self.notes["test_cases"] = len(months["test"].cases)
        if self.config.save_ranker:
            profile.metadata |= {
                "trained_on": "each customer's first basket of September 2011, features from before 2011-09-01",
                "encoder": self.lora.version,
                "made_by": "offerpilot bench retrieval --save-ranker",
            }
            profile.save(RANKER_DIR)
            self.notes["saved_ranker"] = str(RANKER_DIR.relative_to(RANKER_DIR.parents[2]))
        return rows, self.notes

    # encoders -------------------------------------------------------------------------------------------
    def _cache(self, encoder, kind: str) -> tuple[EmbeddingCache, Path]:
        slug = encoder.version.replace("@", "_").replace("+", "_").replace("~", "_")
        path = self.cache_dir / f"{kind}-{slug}.npz"
        return EmbeddingCache.load(path, encoder.version), path

    def embed_products(self, encoder, texts: list[str]) -> np.ndarray:
        cache, path = self._cache(encoder, "products")
        keys = [(sku, text) for sku, text in zip(self.data.catalogue.skus, texts, strict=True)]
        vectors = cache.get_or_encode(
            keys, lambda missing: [texts[i] for i in missing], self._timed(encoder, "products")
        )
        cache.save(path)
        return vectors

    def embed_histories(self, encoder, month: str) -> np.ndarray:
        """History vectors keyed by customer and month start, stamped by their last basket before it."""
        cache, path = self._cache(encoder, "histories")
        cases, texts = self.months[month].cases, self.texts[month]
        keys = [(f"{c.customer}@{c.as_of.date()}", c.history[-1].invoice) for c in cases]
        vectors = cache.get_or_encode(
            keys, lambda missing: [texts[i] for i in missing], self._timed(encoder, "histories")
        )
        cache.save(path)
        return vectors

    def _timed(self, encoder, kind: str):
        def encode(texts: list[str]) -> np.ndarray:
            print(f"encoding {len(texts)} {kind} with {encoder.version}")
            return encoder.encode(texts, batch_size=64, progress=True)

        return encode

    def encoding_throughput(self) -> dict:
        """Texts per second of the tuned (merged) encoder on 256 real history texts and 512 product texts."""
        histories = self.texts["test"][:256]
        products = self.data.catalogue.descriptions[:512]
        result = {"encoder": self.lora.version, "threads": self.config.threads}
        for kind, texts in (("history", histories), ("product", products)):
            started = time.perf_counter()
            self.lora.encode(texts, batch_size=64)
            result[f"{kind}_texts_per_s"] = round(len(texts) / (time.perf_counter() - started), 1)
        return result

    # sasrec ---------------------------------------------------------------------------------------------
    def train_sasrec(self) -> dict[str, np.ndarray]:
        from retrieval.sasrec import score_cases, train_sasrec

        n = len(self.data.catalogue)
        model, log = train_sasrec(
            self.months["valid"].past,
            n,
            self.config.sasrec,
            lambda m: self.evaluate("valid", score_cases(m, self.months["valid"].cases)).ndcg,
        )
        self.notes["sasrec_epochs"] = log
        return {name: score_cases(model, m.cases) for name, m in self.months.items()}

    # pipeline -------------------------------------------------------------------------------------------
    def candidate_lists(self, month: str, with_history: bool) -> list[np.ndarray]:
        """Top products by tuned-encoder similarity (what FAISS returns in production), optionally joined by
        everything the customer bought before, so a repeat purchase cannot be missed by retrieval."""
        m = self.months[month]
        similarity = np.where(m.allowed, self.similarity[month], -np.inf)
        top = np.argpartition(-similarity, self.config.candidates, axis=1)[:, : self.config.candidates]
        if not with_history:
            return list(top)
        bought = [np.array([i for b in c.history for i in b.items if m.allowed[i]], dtype=np.int64) for c in m.cases]
        return [np.union1d(t, extra) for t, extra in zip(top, bought, strict=True)]

    def feature_rows(self, month: str, features: tuple[str, ...], with_history: bool):
        """Rows, labels, query ids and product ids of every candidate of every case in `month`."""
        from retrieval.features import FEATURES, CustomerSignals, Line, product_features

        m, catalogue = self.months[month], self.data.catalogue
        per_product = self.product_statistics(month)
        per_case = {"co_purchase": self.knn[month], "sasrec": self.sasrec[month], "customer_knn": self.uknn[month]}
        rows, labels, queries, items = [], [], [], []
        for q, (case, top) in enumerate(zip(m.cases, self.candidate_lists(month, with_history), strict=True)):
            lines = [
                Line(catalogue.skus[i], catalogue.categories[i], b.at, price)
                for b in case.history
                for i, price in zip(b.items, b.prices, strict=True)
            ]
            spend = sum(b.spend for b in case.history)
            signals = CustomerSignals.from_lines(lines, case.as_of, len(case.history), spend)
            block = product_features(
                signals,
                [catalogue.skus[i] for i in top],
                [catalogue.categories[i] for i in top],
                catalogue.prices[top],
                self.similarity[month][q, top],
            )
            more = [
                (per_product[name][top] if name in per_product else per_case[name][q, top]).reshape(-1, 1)
                for name in features[len(FEATURES) :]
            ]
            rows.append(np.hstack([block, *more]))
            labels.append(np.isin(top, case.target.items))
            queries.append(np.full(len(top), q))
            items.append(top)
        labels = np.concatenate(labels)
        recall = labels.sum() / sum(len(t) for t in m.targets)
        return np.vstack(rows), labels.astype(np.float64), np.concatenate(queries), np.concatenate(items), recall

    def product_statistics(self, month: str) -> dict[str, np.ndarray]:
        """Catalogue-wide features of every product, from the baskets before the month."""
        from retrieval.baselines import popularity, repeat_rate

        m, n = self.months[month], len(self.data.catalogue)
        start = m.cases[0].as_of
        window = self.notes["popularity_window_days_chosen"]
        week, four_weeks = popularity(m.past, n, start, 7), popularity(m.past, n, start, 28)
        return {
            "popularity": np.log1p(popularity(m.past, n, start, window)),
            "popularity_trend": np.log1p(4 * week) - np.log1p(four_weeks),  # rising (>0) or fading this week
            "item_repeat_rate": repeat_rate(m.past, n),
        }

    def full_scores(self, month: str, model: RankerModel, rows, queries, items) -> np.ndarray:
        """The ranker's order over candidates, then every other product in similarity order below them."""
        scores = self.similarity[month] - 1e6
        scores[queries, items] = model.raw(rows)
        return scores

    def pipeline(self, name: str, features: tuple[str, ...]) -> tuple[RankerModel, np.ndarray]:
        """Train LambdaRank on September's candidates and score October's.

        A fifth of September's customers is held out: LightGBM stops early on them, and the candidate
        source (encoder alone, or encoder plus the customer's past products) is chosen by their
        full-ranking NDCG@10.
        """
        from retrieval.ltr import train_lambdarank
        from retrieval.metrics import evaluate

        valid = self.months["valid"]
        held = np.flatnonzero(
            np.random.default_rng(self.config.seed).random(len(valid.cases)) < self.config.ltr.valid_share
        )
        trials = {}
        for with_history in (False, True):
            rows, labels, queries, items, recall = self.feature_rows("valid", features, with_history)
            model = train_lambdarank(rows, labels, queries, features, self.config.ltr, held_out=held)
            scores = self.full_scores("valid", model, rows, queries, items)[held]
            ndcg = evaluate(scores, [valid.targets[i] for i in held], valid.allowed, valid.prior).ndcg
            trials[with_history] = (ndcg, model, recall)
        with_history = max(trials, key=lambda h: trials[h][0])
        _, model, recall = trials[with_history]
        rows, _, queries, items, test_recall = self.feature_rows("test", features, with_history)
        gain = model.booster.feature_importance("gain")
        self.notes[name] = model.metadata | {
            "version": model.version,
            "gain_share": {f: round(float(g / gain.sum()), 3) for f, g in zip(features, gain, strict=True)},
        }
        self.notes[f"{name}_candidates"] = {
            "source": "encoder top-k + past products" if with_history else "encoder top-k",
            "held_out_september_ndcg@10": {
                ("with" if h else "without") + "_history": round(t[0], 4) for h, t in trials.items()
            },
            "candidate_recall": {"valid": round(float(recall), 4), "test": round(float(test_recall), 4)},
        }
        return model, self.full_scores("test", model, rows, queries, items)


def measure_speed(items: np.ndarray, queries: np.ndarray, config: RetrievalBenchConfig) -> list[dict]:
    """Build time, latency, recall against exact search and size of each index kind at each size.

    The approximate kinds are swept over their search effort (HNSW efSearch, IVF nprobe): one build,
    several rows, so the recall/latency trade-off is visible. Latency is timed per single query on one
    thread, by the wall clock (`p50_ms`, `p99_ms`) and by the thread's CPU clock (`*_cpu_ms`), which
    leaves out time the query spent descheduled by other jobs on a shared machine.
    """
    from retrieval.index import choose_kind

    rng = np.random.default_rng(config.seed)
    query_set = queries[rng.choice(len(queries), size=min(config.speed_queries, len(queries)), replace=False)]
    results = []
    for n in config.speed_sizes:
        vectors = synthetic_vectors(items, n, rng)
        truth = _exact_top10(vectors, query_set)
        auto = choose_kind(n)
        approximate = "hnsw" if auto == "flat" else auto
        for kind in ("flat", approximate):
            index, build_s = _timed_build(vectors, kind, config.threads)
            efforts = config.efforts[kind]
            for effort in efforts:
                index.set_search_effort(effort)
                sample = query_set[:200] if kind == "flat" and n > 100_000 else query_set
                row = _latency(index, sample, truth)
                label = kind if effort is None else f"{kind}({'ef' if kind == 'hnsw' else 'nprobe'}={effort})"
                default = effort is None or effort == index.default_effort
                results.append(
                    {"n": n, "index": label + (" auto" if kind == auto and default else ""), "build_s": build_s}
                    | row
                    | {"memory_mb": round(index.memory_bytes() / 1e6, 1)}
                )
                print_table(f"{label} at {n:,}", [results[-1]], SPEED_COLUMNS + CPU_COLUMNS)
            del index
    return results


def _timed_build(vectors: np.ndarray, kind: str, threads: int):
    import faiss

    from retrieval.index import VectorIndex

    faiss.omp_set_num_threads(threads)
    started = time.perf_counter()
    index = VectorIndex.build("bench", [str(i) for i in range(len(vectors))], vectors, kind)
    build_s = round(time.perf_counter() - started, 2)
    faiss.omp_set_num_threads(1)
    return index, build_s


def _latency(index, queries: np.ndarray, truth: np.ndarray) -> dict:
    for query in queries[:50]:  # warm caches and lazily built structures first
        index.index.search(query.reshape(1, -1), 10)
    wall, cpu, recalls = [], [], []
    for query, expected in zip(queries, truth, strict=False):
        started, cpu_started = time.perf_counter(), time.thread_time()
        _, found = index.index.search(query.reshape(1, -1), 10)
        cpu.append((time.thread_time() - cpu_started) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
        recalls.append(len(set(found[0]) & set(expected)) / 10)
    return {
        "p50_ms": round(float(np.percentile(wall, 50)), 3),
        "p99_ms": round(float(np.percentile(wall, 99)), 3),
        "recall_vs_exact": round(float(np.mean(recalls)), 4),
        "p50_cpu_ms": round(float(np.percentile(cpu, 50)), 3),
        "p99_cpu_ms": round(float(np.percentile(cpu, 99)), 3),
    }


def synthetic_vectors(items: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.5) -> np.ndarray:
    """n unit vectors around real product embeddings (noise of norm ≈ `noise`), the real ones first."""
    picks = rng.integers(len(items), size=max(0, n - len(items)))
    jitter = rng.standard_normal((len(picks), items.shape[1]), dtype=np.float32) * (noise / np.sqrt(items.shape[1]))
    synthetic = items[picks] + jitter
    vectors = np.vstack([items[:n], synthetic]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _exact_top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    import faiss

    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return flat.search(queries, 10)[1]


def plot(rows: list[dict], speed: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [r["method"] for r in rows]
    left.barh(names, [r["ndcg@10"] for r in rows], color=["#999"] * 4 + ["#4c72b0"] * 2 + ["#55a868"] + ["#c44e52"] * 2)
    left.invert_yaxis()
    left.set(xlabel="NDCG@10 (October 2011, full ranking)", title="Next-basket retrieval")
    for kind in dict.fromkeys(r["index"].split()[0] for r in speed):
        mine = [r for r in speed if r["index"].split()[0] == kind]
        right.plot([r["n"] for r in mine], [r["p99_ms"] for r in mine], marker="o", label=f"{kind} p99")
    right.axhline(5, color="grey", linestyle=":", label="p99 target 5 ms")
    right.set(xscale="log", yscale="log", xlabel="vectors", ylabel="ms per query", title="FAISS query latency")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def _top_features(ranker: dict, count: int = 4) -> str:
    shares = sorted(ranker["gain_share"].items(), key=lambda kv: -kv[1])[:count]
    return ", ".join(f"`{name}` {share:.0%}" for name, share in shares)


def _summary(rows: list[dict], speed: list[dict], notes: dict, encoding: dict, config: RetrievalBenchConfig) -> str:
    by = {r["method"]: r for r in rows}
    ndcg = {m: r["ndcg@10"] for m, r in by.items()}
    lora_gain = ndcg["minilm_lora"] / ndcg["minilm"] - 1
    baseline = max(("popularity", "repeat", "itemknn", "bm25"), key=lambda m: ndcg[m])
    pipeline_gain = ndcg["pipeline"] / ndcg[baseline] - 1
    served_gain = ndcg["pipeline_profile"] / ndcg[baseline] - 1
    auto_100k = next((r for r in speed if r["n"] == 100_000 and r["index"].endswith("auto")), None)
    speed_met = bool(auto_100k and auto_100k["p99_ms"] <= 5 and auto_100k["recall_vs_exact"] >= 0.95)
    sasrec_epochs = notes["sasrec_epochs"]
    best_sasrec = max(sasrec_epochs, key=lambda e: e["valid"])
    candidates = notes["pipeline_candidates"]
    lora_cell = f"{ndcg['minilm_lora']:.4f} vs {ndcg['minilm']:.4f} ({lora_gain:+.1%})"
    pipeline_cell = f"{ndcg['pipeline']:.4f} vs {ndcg[baseline]:.4f} ({pipeline_gain:+.1%})"
    features = len(notes["pipeline"]["gain_share"])
    return f"""# Retrieval: next basket on Online Retail (October 2011), and FAISS at scale

Made by `offerpilot bench retrieval`. Each of {notes["test_cases"]} customers with a purchase before October and a
basket in October is asked once: rank every product sold before October (full ranking, no sampled negatives)
for their first October basket.

{markdown_table(rows, QUALITY_COLUMNS)}

Protocol: models train on baskets before 2011-09-01. September chooses everything: the popularity window
({notes["popularity_window_days_chosen"]} days) and the repeat half-life ({notes["repeat_half_life_days_chosen"]} days)
among a few values, the encoder checkpoint (`offerpilot finetune encoder`), SASRec's epoch ({best_sasrec["epoch"]}
of {len(sasrec_epochs)}), and the re-ranker, trained on September's first baskets with features from before
September, then applied to October with features from before October. October chooses nothing.
`minilm` is `{notes["base_encoder"]}` (the base model cut at the adapter's 128 tokens, so only the adapter
differs); `minilm_lora` is `{notes["encoder"]}`. `pipeline_profile` is the ranker the offer flow serves: the same
pipeline on only the features a store profile yields per request.

## Targets

| target | measured | verdict |
|---|---|---|
| `minilm_lora` ≥ `minilm` + 15% NDCG@10 | {lora_cell} | {_verdict(lora_gain >= 0.15)} |
| `pipeline` ≥ best baseline (`{baseline}`) + 10% | {pipeline_cell} | {_verdict(pipeline_gain >= 0.10)} |
| 100k vectors: p99 ≤ 5 ms, recall ≥ 0.95 | {_speed_cell(auto_100k)} | {_verdict(speed_met)} |

## What the numbers say

- **Repeat purchase dominates this shop.** Most buyers are small retailers restocking: `repeat` scores
  {ndcg["repeat"]:.3f} against {ndcg["popularity"]:.3f} for popularity, and every text or sequence model that does
  not see the customer's own purchase counts stays below it.
- **Fine-tuning roughly doubles the encoder** ({ndcg["minilm"]:.3f} → {ndcg["minilm_lora"]:.3f}). The base model
  matches words ("lunch bag" → every lunch bag); the contrastive adapter learns which products are bought after
  which, from 3,000 histories in one pass. It still trails `repeat`: a similarity cannot tell which of the
  customer's products get restocked this time.
- **The re-ranker** (LambdaRank over {features} features; by gain {_top_features(notes["pipeline"])}) gains
  {pipeline_gain:+.1%} over `{baseline}`. Candidates: {candidates["source"]}, chosen on held-out September customers
  ({candidates["held_out_september_ndcg@10"]}); they hold {candidates["candidate_recall"]["test"]:.0%} of October's
  basket products, the rest being products the customer never bought that the encoder did not rank in its top
  {config.candidates}. The lift comes from ordering the customer's own products (how regular a staple each is, how
  due it is) and from what similar customers buy; products new to the customer rarely reach the top 10, which
  restocks fill.
- **The served ranker** (`pipeline_profile`, {served_gain:+.1%} against `{baseline}`) lacks exactly the
  catalogue-wide signals (popularity, similar customers, how often a product is re-bought) that order products new
  to a customer; early stopping kept {notes["pipeline_profile"]["best_iteration"]} trees. It is still what the offer
  flow can compute per request, and for coupons it mainly weighs how much of a customer's buying a coupon's
  scope covers and how recently.
{_gap_note(pipeline_gain, notes)}
- **SASRec** (2 blocks, width 64, full softmax) reaches {ndcg["sasrec"]:.3f}: the order of products inside and
  across wholesale orders says little, and it sees only the last 50 products.

## Speed

{markdown_table(speed, SPEED_COLUMNS + CPU_COLUMNS)}

Synthetic vectors (real tuned-encoder product embeddings plus noise, renormalised) for the larger sizes, queried by
real October history embeddings; recall@10 against exact search; single-query latency on one thread;
memory is the serialised index. `*_cpu_ms` are the same timings on the thread's CPU clock: this machine has
{os.cpu_count()} cores shared with other jobs, so wall-clock p99 includes time a query sat descheduled. The index
manager picks exact search up to 50k vectors, HNSW (M=32, efConstruction=160, efSearch=128) up to 500k, IVF
(√n cells, 2% probed) beyond, where an HNSW build on two cores takes too long.

Encoding throughput of the tuned encoder (merged LoRA, {encoding["threads"]} threads): {encoding["history_texts_per_s"]}
history texts/s (up to 128 tokens), {encoding["product_texts_per_s"]} product texts/s.

![retrieval](retrieval.png)
"""


def _gap_note(pipeline_gain: float, notes: dict) -> str:
    if pipeline_gain >= 0.10:
        return ""
    customers = notes["pipeline"]["train_queries"]
    return f"""- **What would close the gap to +10%.** The ranker learns from one month, {customers}
  customers, and is applied to the next, when Christmas stock starts to sell. (1) More training months: retrain
  the encoder on data up to June and fit the ranker on July to September, so its similarity feature stays
  out-of-sample. (2) A seasonal signal (the same weeks last year), which this extract, starting December 2010,
  cannot give for October. (3) Popularity and similar-customer signals in the served feature set, computed from
  the store's event log ahead of requests."""


def _speed_cell(row: dict | None) -> str:
    if row is None:
        return "not measured"
    return (
        f"{row['index']}: p99 {row['p99_ms']} ms wall / {row['p99_cpu_ms']} ms CPU, "
        f"recall {row['recall_vs_exact']}, build {row['build_s']} s"
    )
