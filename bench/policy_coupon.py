"""`offerpilot bench policy-coupon`: coupon acceptance on the UCI in-vehicle coupon survey, by respondent.

Each respondent of the survey answered about 22 driving scenarios. A split that puts some of a person's
answers in training and others in test lets a model recognise the person (their occupation, income and
venue habits are a fingerprint) and score on memory; a shop meeting a new customer has no such memory.
So folds are grouped by respondent. The data has no respondent id: it is derived from the attributes that
stay fixed across one person's answers — gender, age, maritalStatus, has_children, education, occupation,
income, car, Bar, CoffeeHouse, CarryAway, RestaurantLessThan20, Restaurant20To50 — which gives 459
respondents; people who share all thirteen are merged, which only makes the split stricter.

Methods: `ours` (policies.response.ResponseModel: regularised LightGBM with rounds early-stopped on
held-out *respondents* of the training fold, engineered features, no protected attribute), `lightgbm`
(plain defaults) and `logreg` (one-hot logistic regression), both on all raw columns as published
baselines use them. Extra rows: `ours_with_protected` (the same model allowed gender, age, maritalStatus
and has_children: the price of the fairness rule), `ours_warm` (also given the respondent's own answers to
the scenarios before this one, as a shop knows a returning customer's coupon history), and
`lightgbm_row_split` (plain LightGBM on ungrouped folds, the protocol behind the published ≈0.76 accuracy;
for reference only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from bench.report import RESULTS_DIR, markdown_table, print_table, write_results
from policies.fairness import PROTECTED_ATTRIBUTES
from policies.response import ResponseModel

DATA = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "datasets"
    / "coupon"
    / "in-vehicle-coupon-recommendation_part1.csv.gz"
)
PROTECTED = ("gender", "age", "maritalStatus", "has_children")
RESPONDENT_ATTRIBUTES = (
    *PROTECTED,
    *("education", "occupation", "income", "car"),
    *("Bar", "CoffeeHouse", "CarryAway", "RestaurantLessThan20", "Restaurant20To50"),
)
FREQUENCY = {"never": 0, "less1": 1, "1~3": 2, "4~8": 3, "gt8": 4}
# The respondent's own visit-frequency column for the venue a coupon is for.
VENUE_HABIT = {
    "Bar": "Bar",
    "Coffee House": "CoffeeHouse",
    "Carry out & Take away": "CarryAway",
    "Restaurant(<20)": "RestaurantLessThan20",
    "Restaurant(20-50)": "Restaurant20To50",
}
INCOME = (
    "Less than $12500",
    "$12500 - $24999",
    "$25000 - $37499",
    "$37500 - $49999",
    "$50000 - $62499",
    "$62500 - $74999",
    "$75000 - $87499",
    "$87500 - $99999",
    "$100000 or More",
)
# Which coupon is offered matters in context: a coffee coupon at 7AM is not one at 10PM.
INTERACTIONS = (("coupon", "time"), ("coupon", "expiration"), ("coupon", "passanger"))
# Categories are few and the data small: smooth their statistics rather than split on rare levels.
OURS_PARAMS = {"cat_smooth": 50.0, "min_data_per_group": 200, "cat_l2": 20.0}
# Prior strength, in answers, of the shrinkage of a respondent's past acceptance rate towards the mean.
HISTORY_PRIOR = 2.0
COLUMNS = ("method", "auc", "auc_std", "accuracy", "accuracy_std", "protocol")


@dataclass(frozen=True)
class CouponConfig:
    data: Path = DATA
    folds: int = 5
    seed: int = 0
    out_dir: Path = RESULTS_DIR


def load_survey(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path)
    missing = {*RESPONDENT_ATTRIBUTES, "coupon", "Y"} - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: not the in-vehicle coupon survey, missing columns {sorted(missing)}")
    return raw


def respondent_ids(raw: pd.DataFrame) -> NDArray[np.int64]:
    """One id per distinct combination of the attributes that are fixed for a respondent."""
    return pd.factorize(raw[list(RESPONDENT_ATTRIBUTES)].fillna("missing").astype(str).agg("|".join, axis=1))[0]


def coupon_features(raw: pd.DataFrame, include_protected: bool = False) -> pd.DataFrame:
    """Scenario, coupon and respondent habits as model features; protected attributes only when asked.

    Frequencies and income become ordinals; `venue_habit` is how often the respondent visits the kind of
    venue the coupon is for — the single strongest signal. `car` is dropped (99% missing).
    """
    features = pd.DataFrame(index=raw.index)
    for column in ("destination", "passanger", "weather", "coupon", "education", "occupation"):
        features[column] = raw[column].astype("category")
    for left, right in INTERACTIONS:
        features[f"{left}_x_{right}"] = (raw[left] + "|" + raw[right]).astype("category")
    features["temperature"] = raw["temperature"]
    hour = raw["time"].str[:-2].astype(int) % 12
    features["hour"] = hour + np.where(raw["time"].str.endswith("PM"), 12, 0)
    features["expiration_hours"] = raw["expiration"].map({"2h": 2, "1d": 24})
    features["income"] = raw["income"].map({label: rank for rank, label in enumerate(INCOME)})
    for habit in VENUE_HABIT.values():
        features[habit] = raw[habit].map(FREQUENCY)
    features["venue_habit"] = np.nan
    for coupon, habit in VENUE_HABIT.items():
        offered = raw["coupon"] == coupon
        features.loc[offered, "venue_habit"] = raw.loc[offered, habit].map(FREQUENCY)
    features["distance"] = raw["toCoupon_GEQ15min"] + raw["toCoupon_GEQ25min"]
    features["direction_same"] = raw["direction_same"]
    if include_protected:
        for column in PROTECTED:
            features[column] = raw[column].astype("category")
    return features


def with_history(
    features: pd.DataFrame, raw: pd.DataFrame, respondent: NDArray[np.int64], prior: float
) -> pd.DataFrame:
    """Add what the respondent answered before this scenario: how many, and the acceptance rates.

    Rates are shrunk towards `prior` (the training fold's acceptance rate) by HISTORY_PRIOR answers, so a
    first answer is not read as certainty. Only earlier rows of the same respondent count, as in a shop
    that knows a customer's past coupon responses but not the present one.
    """
    y = raw["Y"].astype(float)
    by_person = pd.Series(respondent, index=raw.index)
    by_coupon = by_person.astype(str) + "|" + raw["coupon"]
    out = features.copy()
    for name, key in (("history", by_person), ("history_coupon", by_coupon)):
        seen = key.groupby(key).cumcount()
        accepted = y.groupby(key).cumsum() - y
        out[f"{name}_answers"] = seen
        out[f"{name}_rate"] = (accepted + HISTORY_PRIOR * prior) / (seen + HISTORY_PRIOR)
    return out


@dataclass(frozen=True)
class Fold:
    """One cross-validation split of the survey: train and test row positions, and each row's respondent."""

    raw: pd.DataFrame
    respondent: NDArray[np.int64]
    train: NDArray[np.int64]
    test: NDArray[np.int64]

    @property
    def y(self) -> NDArray[np.int64]:
        return self.raw["Y"].to_numpy()


def _fit_ours(fold: Fold, X: pd.DataFrame, protected: frozenset[str] = PROTECTED_ATTRIBUTES) -> NDArray[np.float64]:
    model = ResponseModel(monotone={}, params=OURS_PARAMS, protected=protected)
    model.fit(X.iloc[fold.train], fold.y[fold.train], groups=fold.respondent[fold.train])
    return model.predict_proba(X.iloc[fold.test])


def ours(fold: Fold) -> NDArray[np.float64]:
    return _fit_ours(fold, coupon_features(fold.raw))


def ours_with_protected(fold: Fold) -> NDArray[np.float64]:
    return _fit_ours(fold, coupon_features(fold.raw, include_protected=True), protected=frozenset())


def ours_warm(fold: Fold) -> NDArray[np.float64]:
    prior = float(fold.y[fold.train].mean())
    return _fit_ours(fold, with_history(coupon_features(fold.raw), fold.raw, fold.respondent, prior))


def _raw_features(raw: pd.DataFrame) -> pd.DataFrame:
    features = raw.drop(columns="Y")
    for column in features.select_dtypes(exclude="number").columns:
        features[column] = features[column].astype("category")
    return features


def plain_lightgbm(fold: Fold) -> NDArray[np.float64]:
    X = _raw_features(fold.raw)
    model = lgb.LGBMClassifier(n_jobs=1, verbose=-1).fit(X.iloc[fold.train], fold.y[fold.train])
    return model.predict_proba(X.iloc[fold.test])[:, 1]


def logreg(fold: Fold) -> NDArray[np.float64]:
    X = fold.raw.drop(columns="Y").fillna("missing").astype(str)
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=2000))
    model.fit(X.iloc[fold.train], fold.y[fold.train])
    return model.predict_proba(X.iloc[fold.test])[:, 1]


# name -> (fit on a fold and score its test rows, whether folds are grouped by respondent)
METHODS: dict[str, tuple[Callable[[Fold], NDArray[np.float64]], bool]] = {
    "ours": (ours, True),
    "lightgbm": (plain_lightgbm, True),
    "logreg": (logreg, True),
    "ours_with_protected": (ours_with_protected, True),
    "ours_warm": (ours_warm, True),
    "lightgbm_row_split": (plain_lightgbm, False),
}


def folds(
    raw: pd.DataFrame, respondent: NDArray[np.int64], n_folds: int, seed: int, grouped: bool = True
) -> list[Fold]:
    """Stratified folds; grouped ones keep every respondent's rows on one side."""
    y = raw["Y"].to_numpy()
    if grouped:
        splits = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(raw, y, respondent)
    else:
        splits = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(raw, y)
    return [Fold(raw, respondent, train, test) for train, test in splits]


def out_of_fold(method: Callable[[Fold], NDArray[np.float64]], splits: list[Fold]) -> NDArray[np.float64]:
    """Each row scored by the model of the fold that held it out."""
    scores = np.full(len(splits[0].raw), np.nan)
    for fold in splits:
        scores[fold.test] = method(fold)
    return scores


def plot_roc(y: NDArray, scores: dict[str, NDArray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    for name, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=f"{name} (pooled AUC {roc_auc_score(y, score):.3f})")
    ax.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("In-vehicle coupon acceptance, out-of-fold ROC")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(config: CouponConfig = CouponConfig()) -> dict:
    started = time.perf_counter()
    raw = load_survey(config.data)
    respondent = respondent_ids(raw)
    y = raw["Y"].to_numpy()
    split = {g: folds(raw, respondent, config.folds, config.seed, grouped=g) for g in (True, False)}
    rows, pooled = [], {}
    for name, (method, grouped) in METHODS.items():
        aucs, accuracies = [], []
        scores = np.full(len(raw), np.nan)
        for fold in split[grouped]:
            scores[fold.test] = method(fold)
            aucs.append(roc_auc_score(y[fold.test], scores[fold.test]))
            accuracies.append(accuracy_score(y[fold.test], scores[fold.test] >= 0.5))
        pooled[name] = scores
        rows.append(
            {
                "method": name,
                "auc": float(np.mean(aucs)),
                "auc_std": float(np.std(aucs, ddof=1)),
                "accuracy": float(np.mean(accuracies)),
                "accuracy_std": float(np.std(accuracies, ddof=1)),
                "protocol": "grouped" if grouped else "rows (leaks respondents)",
            }
        )
    config.out_dir.mkdir(parents=True, exist_ok=True)
    plot_roc(y, {k: v for k, v in pooled.items() if k != "lightgbm_row_split"}, config.out_dir / "policy_coupon.png")
    seconds = time.perf_counter() - started

    print_table("In-vehicle coupon acceptance (5-fold CV)", rows, COLUMNS)
    by = {row["method"]: row for row in rows}
    met = by["ours"]["accuracy"] >= 0.77 and by["ours"]["auc"] >= 0.84
    protocol_gap = by["lightgbm_row_split"]["accuracy"] - by["lightgbm"]["accuracy"]
    analysis = (
        f"The published ≈0.76 accuracy comes from row-level splits: the same plain LightGBM scores "
        f"{by['lightgbm_row_split']['accuracy']:.3f} there and {by['lightgbm']['accuracy']:.3f} on unseen "
        f"respondents, so {protocol_gap:.3f} of it is recognising respondents from their other answers. On "
        f"unseen respondents `ours` gains {by['ours']['auc'] - by['lightgbm']['auc']:+.3f} AUC and "
        f"{by['ours']['accuracy'] - by['lightgbm']['accuracy']:+.3f} accuracy over it; given the respondent's "
        f"earlier answers (`ours_warm`) it reaches {by['ours_warm']['auc']:.3f} / {by['ours_warm']['accuracy']:.3f}, "
        "the published level, still without ever training on the respondent."
    )
    summary = "\n\n".join(
        [
            "# Coupon acceptance on the in-vehicle coupon survey",
            f"{len(raw):,} answers from {respondent.max() + 1} respondents (derived id, see below); acceptance "
            f"rate {y.mean():.3f}. {config.folds}-fold stratified cross-validation grouped by respondent unless "
            "marked; mean and standard deviation over folds; accuracy at probability 0.5.",
            markdown_table(rows, COLUMNS),
            f"Targets for `ours` (accuracy >= 0.77, AUC >= 0.84): {'met' if met else 'not met'}. {analysis}",
            "- Respondent id: the data has none; it is derived from the 13 attributes fixed per respondent "
            f"({', '.join(RESPONDENT_ATTRIBUTES)}).\n"
            "- `ours` never sees gender, age, maritalStatus or has_children (policies.fairness refuses them at "
            "fit); `ours_with_protected` shows what that costs. `lightgbm` and `logreg` use all raw columns.\n"
            "- `ours_warm` adds the respondent's earlier answers (the information a shop has about a returning "
            "customer); it is still evaluated on respondents never seen in training.\n"
            "- `lightgbm_row_split` is `lightgbm` on folds that ignore respondents, the protocol behind the "
            "published ≈0.76 accuracy; it is optimistic because a respondent's other answers sit in training.",
            f"Runtime {seconds:.0f} s. ROC curves: `policy_coupon.png`.",
        ]
    )
    payload = {
        "data": config.data.name,
        "config": {"folds": config.folds, "seed": config.seed},
        "respondents": int(respondent.max() + 1),
        "seconds": round(seconds, 1),
        "rows": rows,
    }
    write_results("policy_coupon", payload, summary, config.out_dir)
    return payload
