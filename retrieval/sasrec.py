"""SASRec (Kang & McAuley, 2018): a causal Transformer over a customer's item sequence, next-item softmax.

Read top to bottom: config, model, sequences, training loop, scoring. A customer's purchases become one
sequence (baskets in time order, products in line order); at every position the model predicts the next
product with a full softmax over the catalogue (cross-entropy, no sampled negatives), the output layer
sharing the item embeddings. Small enough for two CPU cores: 2 blocks of width 64, 50 positions.
Training reads only baskets before the split's end; the validation cases choose the epoch to keep.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from retrieval.datasets import Basket
from retrieval.splits import Case, by_customer


@dataclass
class SASRecConfig:
    max_len: int = 50
    dim: int = 64
    heads: int = 2
    layers: int = 2
    dropout: float = 0.2
    windows_per_customer: int = 2  # the most recent chunks of max_len; older behaviour matters less
    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    patience: int = 3  # validations without improvement before stopping
    seed: int = 13
    threads: int = 2


class SASRec(nn.Module):
    def __init__(self, n_items: int, config: SASRecConfig) -> None:
        super().__init__()
        self.config = config
        self.items = nn.Embedding(n_items + 1, config.dim, padding_idx=0)  # token 0 pads, product i is i + 1
        self.positions = nn.Embedding(config.max_len, config.dim)
        block = nn.TransformerEncoderLayer(
            config.dim, config.heads, 2 * config.dim, config.dropout, batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(block, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.dim)
        self.dropout = nn.Dropout(config.dropout)
        for table in (self.items, self.positions):
            nn.init.normal_(table.weight, std=0.02)  # small, so the tied output layer starts near uniform
        causal = torch.triu(torch.ones(config.max_len, config.max_len, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Hidden states (batch, length, dim) of left-padded token sequences; position t sees only ≤ t."""
        length = tokens.shape[1]
        x = self.items(tokens) * math.sqrt(self.config.dim) + self.positions.weight[-length:]
        x = self.dropout(x) * (tokens > 0).unsqueeze(-1)
        return self.norm(self.blocks(x, mask=self.causal[:length, :length], is_causal=True))

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Scores of every product (no padding token) from hidden states."""
        return hidden @ self.items.weight[1:].T


def sequences(baskets: Sequence[Basket]) -> dict[str, list[int]]:
    """Each customer's products in purchase order, as tokens (product index + 1)."""
    return {c: [i + 1 for b in bs for i in b.items] for c, bs in by_customer(baskets).items()}


def windows(tokens: list[int], max_len: int, count: int) -> list[list[int]]:
    """The last `count` chunks of max_len + 1 tokens (inputs and shifted targets), cut from the end."""
    return [tokens[max(0, end - max_len - 1) : end] for end in range(len(tokens), 1, -max_len)][:count]


def left_pad(rows: Sequence[Sequence[int]], length: int) -> torch.Tensor:
    padded = np.zeros((len(rows), length), dtype=np.int64)
    for r, row in enumerate(rows):
        row = list(row)[-length:]
        if row:
            padded[r, -len(row) :] = row
    return torch.from_numpy(padded)


def score_cases(model: SASRec, cases: Sequence[Case], batch_size: int = 256) -> np.ndarray:
    """Next-product scores (cases, products) from each case's history, newest max_len products."""
    model.eval()
    histories = [[i + 1 for b in case.history for i in b.items] for case in cases]
    out = []
    with torch.no_grad():
        for start in range(0, len(histories), batch_size):
            tokens = left_pad(histories[start : start + batch_size], model.config.max_len)
            out.append(model.logits(model(tokens)[:, -1]).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.items.num_embeddings - 1), dtype=np.float32)


def train_sasrec(
    baskets: Sequence[Basket], n_items: int, config: SASRecConfig, validate, progress: bool = True
) -> tuple[SASRec, list[dict]]:
    """Train on `baskets`; `validate(model) -> float` (higher is better) picks the epoch to keep."""
    torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    chunks = [
        w
        for tokens in sequences(baskets).values()
        for w in windows(tokens, config.max_len, config.windows_per_customer)
    ]
    model = SASRec(n_items, config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    log: list[dict] = []
    best, best_score, stale = copy.deepcopy(model.state_dict()), -1.0, 0
    bar = tqdm(range(1, config.epochs + 1), desc="sasrec", disable=not progress)
    for epoch in bar:
        model.train()
        rng.shuffle(chunks)
        losses = []
        for start in range(0, len(chunks), config.batch_size):
            batch = left_pad(chunks[start : start + config.batch_size], config.max_len + 1)
            inputs, targets = batch[:, :-1], batch[:, 1:]
            known = targets > 0
            logits = model.logits(model(inputs)[known])  # full softmax, at every real position only
            loss = nn.functional.cross_entropy(logits, targets[known] - 1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        score = validate(model)
        log.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 4), "valid": round(score, 4)})
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", valid=f"{score:.4f}")
        if score > best_score:
            best, best_score, stale = copy.deepcopy(model.state_dict()), score, 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    model.load_state_dict(best)
    model.eval()
    return model, log
