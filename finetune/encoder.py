"""Contrastive LoRA fine-tuning of all-MiniLM-L6-v2: a customer's history text → what they bought next.

Read top to bottom: data, examples, hard negatives, model, loop, validation, save. An example is the
history text of a customer just before one of their baskets, a few products of that basket (positives)
and a few products the base encoder finds close to those positives but the basket does not hold (mined
hard negatives). The loss is InfoNCE over the batch: every other example's products are negatives too
(in-batch negatives). Anything in the query's own basket is masked out of its negatives, so the loss
never pushes away something the customer actually bought.

Strict temporal split (retrieval.splits): examples come only from baskets before 2011-09-01; September
picks the checkpoint to keep; October, the benchmark's test month, is never read here.
Sized for two CPU cores: a history text (128 tokens) is the expensive side, so each serves several
positives; LoRA sits on the top three layers only, so the backward pass stops there.
"""

from __future__ import annotations

import json
import platform
import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from finetune import seed_everything
from retrieval.datasets import ONLINE_RETAIL, RetailData, default_cache_dir, load_retail
from retrieval.encoder import DEFAULT_ADAPTER, METADATA_FILE, adapter_digest, base_version, load_base_model
from retrieval.metrics import evaluate
from retrieval.splits import TRAIN_END, VALID_END, Case, case_text, known_items, next_basket_cases, training_cases
from retrieval.texts import product_text


@dataclass
class FinetuneConfig:
    data_path: Path = ONLINE_RETAIL
    out_dir: Path = DEFAULT_ADAPTER
    cache_dir: Path | None = None  # product categories; default under the data directory
    categorize: bool = True  # False labels every product "Uncategorised" (tests, without the category model)
    seed: int = 13
    threads: int = 2
    # pairs: one history text (the expensive side) serves several products of its next basket
    queries_per_customer: int = 3
    max_queries: int = 3_000
    positives_per_query: int = 4
    negatives_per_query: int = 2
    hard_negative_ranks: tuple[int, int] = (3, 30)  # drawn from the positive's 3rd..30th nearest products
    # model
    max_seq_length: int = 128
    lora_rank: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: tuple[str, ...] = ("query", "key", "value", "dense")
    lora_layers: tuple[int, ...] = (3, 4, 5)  # the top half of six: gradients stop below them
    # optimisation
    epochs: int = 1
    batch_size: int = 16  # queries per step; documents per step = batch * (positives + negatives)
    learning_rate: float = 1e-3
    warmup_share: float = 0.1
    weight_decay: float = 0.01
    scale: float = 20.0  # inverse temperature of the softmax over cosine similarities
    # validation (September): the kept adapter is the best of these checkpoints
    valid_cases: int = 200
    validations: int = 3  # evenly spaced over the run, the last at its end
    max_steps: int | None = None  # cut the run short (tests); None runs every epoch in full


@dataclass(frozen=True)
class Example:
    query: str
    positives: tuple[int, ...]
    negatives: tuple[int, ...]
    basket: frozenset[int]


def make_examples(
    cases: list[Case], data: RetailData, neighbours: np.ndarray, rng: random.Random, config: FinetuneConfig
) -> list[Example]:
    """Per case: random products of the next basket, and near neighbours of them that it does not hold."""
    low, high = config.hard_negative_ranks
    examples = []
    for case in cases:
        basket = frozenset(case.target.items)
        items = list(case.target.items)
        positives = (
            rng.sample(items, config.positives_per_query)
            if len(items) >= config.positives_per_query
            else (rng.choices(items, k=config.positives_per_query))
        )
        near = [int(n) for p in positives for n in neighbours[p, low:high] if int(n) not in basket]
        negatives = (
            rng.sample(near, config.negatives_per_query)
            if len(near) >= config.negatives_per_query
            else (rng.sample(range(len(data.catalogue)), config.negatives_per_query))
        )
        examples.append(Example(case_text(case, data), tuple(positives), tuple(negatives), basket))
    return examples


def info_nce(queries: torch.Tensor, documents: torch.Tensor, batch: list[Example], docs: list[int], scale: float):
    """Multi-positive InfoNCE: each (query, positive) is a softmax over every document in the batch.

    Documents are the batch's positives (query i's at columns i*P .. i*P+P-1) then its negatives. For a
    given positive, every other product of the same basket is masked out, so neither the query's other
    positives nor an in-batch product it happened to buy counts as a negative.
    """
    per_query = len(batch[0].positives)
    logits = scale * queries @ documents.T
    bought = torch.tensor([[d in e.basket for d in docs] for e in batch])
    rows = torch.arange(len(batch))
    loss = torch.zeros(())
    for j in range(per_query):
        target = rows * per_query + j
        own = torch.zeros_like(bought)
        own[rows, target] = True
        loss = loss + torch.nn.functional.cross_entropy(logits.masked_fill(bought & ~own, float("-inf")), target)
    return loss / per_query


def encode(model, texts: list[str], batch_size: int) -> np.ndarray:
    with torch.no_grad():
        return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)


def validation_ndcg(
    histories: np.ndarray, items: np.ndarray, cases: list[Case], allowed: np.ndarray, no_prior: np.ndarray
) -> float:
    return evaluate(histories @ items.T, [c.target.items for c in cases], allowed, no_prior).ndcg


def train(config: FinetuneConfig) -> dict:
    started, cpu_started = time.time(), time.process_time()
    torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    rng = random.Random(config.seed)

    # data: categories come from the base encoder (cached), exactly as the store derives them
    from retrieval.categories import categorize

    labeller = categorize if config.categorize else None
    data = load_retail(config.data_path, labeller, config.cache_dir or default_cache_dir())
    cases = training_cases(data, TRAIN_END, config.queries_per_customer, config.seed)
    rng.shuffle(cases)
    cases = cases[: config.max_queries]
    valid = next_basket_cases(data, TRAIN_END, VALID_END)
    valid = rng.sample(valid, min(config.valid_cases, len(valid)))
    valid_texts = [case_text(c, data) for c in valid]
    allowed = known_items(data.before(TRAIN_END), len(data.catalogue))
    no_prior = np.zeros(len(data.catalogue))
    products = [product_text(d, c) for d, c in zip(data.catalogue.descriptions, data.catalogue.categories, strict=True)]
    print(f"{len(cases)} training queries, {len(valid)} validation cases, {len(products)} products")

    # hard negatives: each positive's nearest products under the base encoder, mined once before training
    model = load_base_model(config.max_seq_length)
    base_items = encode(model, products, 128)
    neighbours = np.argsort(-(base_items @ base_items.T), axis=1)[:, : config.hard_negative_ranks[1]]
    examples = make_examples(cases, data, neighbours, rng, config)
    base_ndcg = validation_ndcg(encode(model, valid_texts, 32), base_items, valid, allowed, no_prior)
    print(f"step 0 (base encoder): validation NDCG@10 {base_ndcg:.4f}")

    # model: LoRA on the top layers' attention and feed-forward projections; it starts as a zero update
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_targets),
        layers_to_transform=list(config.lora_layers),
        layers_pattern="layer",
    )
    model[0].model = get_peft_model(model[0].model, lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    best = {"step": 0, "ndcg": base_ndcg, "state": _lora_state(model)}
    checkpoints = [{"step": 0, "valid_ndcg@10": round(base_ndcg, 4)}]

    steps_per_epoch = len(examples) // config.batch_size
    total = min(config.max_steps or steps_per_epoch * config.epochs, steps_per_epoch * config.epochs)
    validate_at = {round(total * (i + 1) / config.validations) for i in range(config.validations)}
    warmup = max(1, int(config.warmup_share * total))
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
    )
    model.train()
    losses: list[float] = []
    bar = tqdm(total=total, desc="finetune encoder")
    for step in range(1, total + 1):
        epoch, offset = divmod(step - 1, steps_per_epoch)
        if offset == 0:
            rng.shuffle(examples)
        batch = examples[offset * config.batch_size : (offset + 1) * config.batch_size]
        docs = [p for e in batch for p in e.positives] + [n for e in batch for n in e.negatives]
        queries = model(model.preprocess([e.query for e in batch]))["sentence_embedding"]
        documents = model(model.preprocess([products[d] for d in docs]))["sentence_embedding"]
        loss = info_nce(queries, documents, batch, docs, config.scale)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-20:]):.3f}")
        if step in validate_at:
            model.eval()
            ndcg = validation_ndcg(
                encode(model, valid_texts, 32), encode(model, products, 128), valid, allowed, no_prior
            )
            model.train()
            checkpoints.append(
                {"step": step, "valid_ndcg@10": round(ndcg, 4), "train_loss": round(float(np.mean(losses[-20:])), 4)}
            )
            bar.write(f"step {step}: validation NDCG@10 {ndcg:.4f} (base {base_ndcg:.4f})")
            if ndcg > best["ndcg"]:
                best = {"step": step, "ndcg": ndcg, "state": _lora_state(model)}
    bar.close()

    # save the best checkpoint's adapter with everything needed to reproduce and judge it
    model.load_state_dict(best["state"], strict=False)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    model[0].model.save_pretrained(str(config.out_dir))
    (config.out_dir / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
    metadata = {
        "base_model": base_version(),
        "version": f"{base_version()}+lora-{adapter_digest(config.out_dir)}",
        "data": {
            "source": config.data_path.name,
            "train": f"baskets before {TRAIN_END.date()}",
            "validation": f"first basket per customer in [{TRAIN_END.date()}, {VALID_END.date()})",
            "test": "October 2011: never read here",
            "queries": len(examples),
            "validation_cases": len(valid),
        },
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "metrics": {
            "checkpoints": checkpoints,
            "best_step": best["step"],
            "best_valid_ndcg@10": round(best["ndcg"], 4),
        },
        "seed": config.seed,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        # CPU time of all threads: on a shared machine, cpu_seconds / threads is the wall time on idle cores
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": config.threads},
    }
    (config.out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


def _lora_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}
