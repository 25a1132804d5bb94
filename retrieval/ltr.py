"""LightGBM LambdaRank over candidate features, with per-feature contributions and a calibrated score.

A ranking model's raw output only orders candidates within one query; the offer flow also needs a
relevance in [0, 1] for pricing, so a logistic calibration `p = σ(a·raw + b)` is fitted on held-out
queries. Per-feature contributions come from LightGBM's `pred_contrib` (TreeSHAP): they sum, with the
bias term, to the raw score exactly, and scaled by `a` (bias by `a·bias + b`) to the logit of the
calibrated score, which is what explanations quote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MODEL_FILE = "ranker.txt"
META_FILE = "ranker.json"
BIAS = "bias"


@dataclass
class LambdaRankConfig:
    objective: str = "lambdarank"  # or "rank_xendcg"; both are listwise and honour the query groups
    num_leaves: int = 15
    learning_rate: float = 0.05
    rounds: int = 400
    early_stopping: int | None = 40  # rounds without held-out improvement; None trains all `rounds`
    min_child_samples: int = 50
    feature_fraction: float = 0.9
    truncation: int = 20  # LambdaRank looks at pairs involving the top this-many places
    valid_share: float = 0.2  # of the queries, held out for early stopping and calibration
    seed: int = 13
    threads: int = 2


@dataclass
class RankerModel:
    booster: object  # lightgbm.Booster
    features: tuple[str, ...]
    scale: float
    offset: float
    metadata: dict

    @property
    def version(self) -> str:
        text = self.booster.model_to_string()
        return "lambdarank-" + hashlib.sha256(text.encode()).hexdigest()[:10]

    def raw(self, rows: np.ndarray) -> np.ndarray:
        return self.booster.predict(rows, num_threads=1)

    def contributions(self, rows: np.ndarray) -> list[dict[str, float]]:
        """Per row: each feature's part of the calibrated logit, plus `bias`; they sum to the logit."""
        parts = self.booster.predict(rows, pred_contrib=True, num_threads=1)
        return [
            {name: float(self.scale * v) for name, v in zip(self.features, row[:-1], strict=True)}
            | {BIAS: float(self.scale * row[-1] + self.offset)}
            for row in parts
        ]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / MODEL_FILE))
        meta = {"features": list(self.features), "scale": self.scale, "offset": self.offset} | self.metadata
        (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> RankerModel:
        import lightgbm

        meta = json.loads((directory / META_FILE).read_text())
        booster = lightgbm.Booster(model_file=str(directory / MODEL_FILE))
        features = tuple(meta.pop("features"))
        if tuple(booster.feature_name()) != features:
            raise ValueError(f"ranker in {directory} was trained on {booster.feature_name()}, metadata says {features}")
        return cls(booster, features, meta.pop("scale"), meta.pop("offset"), meta)


def train_lambdarank(
    rows: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    features: tuple[str, ...],
    config: LambdaRankConfig,
    held_out: np.ndarray | None = None,
) -> RankerModel:
    """Fit on queries (`groups` = the query of each row, a query's rows contiguous). Held-out queries
    (`held_out`, else a random `valid_share` of them) serve early stopping and the score calibration."""
    import lightgbm
    from sklearn.linear_model import LogisticRegression

    queries = np.unique(groups)
    if held_out is None:
        held_out = queries[np.random.default_rng(config.seed).random(len(queries)) < config.valid_share]
    in_valid = np.isin(groups, held_out)

    def dataset(mask: np.ndarray, reference=None):
        _, sizes = np.unique(groups[mask], return_counts=True)
        return lightgbm.Dataset(
            rows[mask], labels[mask], group=sizes, feature_name=list(features), reference=reference, free_raw_data=False
        )

    train_set = dataset(~in_valid)
    valid_set = dataset(in_valid, train_set)
    params = {
        "objective": config.objective,
        "metric": "ndcg",
        "eval_at": [10],
        "lambdarank_truncation_level": config.truncation,
        "num_leaves": config.num_leaves,
        "learning_rate": config.learning_rate,
        "min_child_samples": config.min_child_samples,
        "feature_fraction": config.feature_fraction,
        "seed": config.seed,
        "deterministic": True,
        "num_threads": config.threads,
        "verbose": -1,
    }
    booster = lightgbm.train(
        params,
        train_set,
        num_boost_round=config.rounds,
        valid_sets=[valid_set],
        callbacks=[lightgbm.early_stopping(config.early_stopping, verbose=False)] if config.early_stopping else [],
    )
    rounds = booster.best_iteration or config.rounds
    booster = lightgbm.Booster(model_str=booster.model_to_string(num_iteration=rounds))
    platt = LogisticRegression().fit(booster.predict(rows[in_valid]).reshape(-1, 1), labels[in_valid])
    metadata = {
        "config": asdict(config),
        "best_iteration": booster.current_iteration(),
        "valid_ndcg@10": round(float(_best_score(booster, rows, labels, groups, in_valid)), 4),
        "train_queries": len(np.unique(groups[~in_valid])),
        "valid_queries": len(np.unique(groups[in_valid])),
    }
    return RankerModel(booster, features, float(platt.coef_[0, 0]), float(platt.intercept_[0]), metadata)


def _best_score(booster, rows: np.ndarray, labels: np.ndarray, groups: np.ndarray, mask: np.ndarray) -> float:
    """Mean NDCG@10 of the held-out queries' candidate lists (all relevant candidates count as ideal)."""
    scores = booster.predict(rows[mask])
    values = []
    discounts = 1.0 / np.log2(np.arange(2, 12))
    for query in np.unique(groups[mask]):
        here = groups[mask] == query
        relevant = labels[mask][here]
        if not relevant.any():
            continue
        top = relevant[np.argsort(-scores[here], kind="stable")][:10]
        ideal = discounts[: min(10, int(relevant.sum()))].sum()
        values.append((top * discounts[: len(top)]).sum() / ideal)
    return float(np.mean(values)) if values else 0.0
