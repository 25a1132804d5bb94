"""Fit the season simulator's customers to the real UCI Online Retail data, once, and cache the fit as JSON.

What the data can tell us, and how it is read:

- **Shopping occasions.** One customer's product lines on one day are one occasion (several invoices on a day
  are one trip to the shop). Rows are cleaned by the store's own ingest rules (`store.online_retail`), so the
  simulator's customers are the customers the store holds; refunds are left out.
- **Purchase cycles.** Each customer's repeat occasions are a renewal process with Weibull gaps. The shape is
  pooled over customers with at least six occasions (profile likelihood, one scale per customer); it is above 1,
  so the chance to buy grows with time since the last order, which is what makes a discount that pulls an order
  forward cheaper than it looks. The rate is per customer, shrunk toward the population by a gamma-Poisson
  empirical-Bayes fit, so a customer seen once gets a sensible rate rather than zero or infinity. (A BG/NBD fit
  (Fader, Hardie & Lee 2005) of the same data puts the chance of lapsing after an order at zero: over these
  eleven months, long silences are low rates, not lapsed customers, so the simulator has no lapse state.)
- **Basket values.** Log occasion values are normal around a per-customer mean (shrunk by a normal-normal
  empirical-Bayes fit) with one pooled within-customer spread.
- **Seasonality.** Occasions per week over the last 26 full weeks of the extract (May to October 2011, the run-up
  to the retailer's Q4 peak), relative to the mean week of the whole extract; weeks the shop was closed
  (Christmas) are left out of that mean.
- **What it cannot tell us.** The retailer ran no discount experiments, so price sensitivity, reference-price,
  fatigue and competitor effects are stated assumptions in `policies.rl.model.SimConfig`, not fits.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from scipy import optimize, special

from store.online_retail import ASSUMED_MARGIN_RATE, OnlineRetailReport, read_sales

VERSION = "online-retail-calibration-v1"
ONLINE_RETAIL = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "datasets"
    / "online_retail"
    / "online_retail_2010-12_2011-10.csv.gz"
)
CALIBRATION_PATH = Path(__file__).resolve().parents[1] / "artifacts" / "online_retail_calibration.json"
SEASON_WEEKS = 26
# Customers with this many occasions or more inform the pooled Weibull shape (five gaps or more each).
MIN_OCCASIONS_FOR_SHAPE = 6
# A week with fewer occasions than this share of the median week is a closure (Christmas), not demand.
CLOSED_WEEK_SHARE = 0.25


@dataclass(frozen=True)
class Calibration:
    """The fitted population: per-customer arrays plus pooled parameters and where they came from."""

    version: str
    source: dict
    margin_rate: float
    weibull_shape: float
    basket_log_sd: float
    rate_prior: tuple[float, float]  # gamma shape, rate (per week)
    basket_prior: tuple[float, float]  # normal mean, sd of customers' log-basket means
    season_start: str
    season_index: list[float]
    customer_ids: list[str]
    weekly_rate: list[float]
    basket_log_mean: list[float]
    occasions: list[int]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        raw = json.loads(text)
        raw["rate_prior"], raw["basket_prior"] = tuple(raw["rate_prior"]), tuple(raw["basket_prior"])
        return cls(**raw)


def calibrate(path: Path = ONLINE_RETAIL) -> Calibration:
    """Read the Online Retail CSV and fit the simulator's population (about ten seconds)."""
    report = OnlineRetailReport(str(path))
    sales = [sale for sale in read_sales(path, report, lambda _: None) if not sale.is_refund]
    if not sales:
        raise ValueError(f"no sales in {path}")
    baskets: defaultdict[str, defaultdict[date, float]] = defaultdict(lambda: defaultdict(float))
    for sale in sales:
        baskets[sale.customer_id][sale.occurred_at.date()] += sale.quantity * sale.unit_price
    first_day = min(sale.occurred_at.date() for sale in sales)
    last_day = max(sale.occurred_at.date() for sale in sales)

    ids = sorted(baskets)
    days = [sorted(baskets[cid]) for cid in ids]
    rates, rate_prior = _weekly_rates(days, last_day)
    values = [[baskets[cid][d] for d in ds] for cid, ds in zip(ids, days, strict=True)]
    log_means, log_sd, basket_prior = _basket_logs(values)
    season_start, season = _season_index(days, first_day, last_day)
    source = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows_read": report.rows_read,
        "rows_dropped": {str(reason): n for reason, n in sorted(report.dropped.items())},
        "sale_lines_used": len(sales),
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "cleaning": "store.online_retail ingest rules; refunds left out; one occasion per customer-day",
    }
    return Calibration(
        version=VERSION,
        source=source,
        margin_rate=ASSUMED_MARGIN_RATE,
        weibull_shape=round(_weibull_shape(days), 4),
        basket_log_sd=round(log_sd, 4),
        rate_prior=(round(rate_prior[0], 4), round(rate_prior[1], 4)),
        basket_prior=(round(basket_prior[0], 4), round(basket_prior[1], 4)),
        season_start=season_start.isoformat(),
        season_index=[round(float(x), 4) for x in season],
        customer_ids=ids,
        weekly_rate=[round(float(x), 5) for x in rates],
        basket_log_mean=[round(float(x), 4) for x in log_means],
        occasions=[len(ds) for ds in days],
    )


def load_calibration(path: Path = CALIBRATION_PATH) -> Calibration:
    """The cached fit; `offerpilot train policy --recalibrate` rebuilds it from the CSV."""
    return Calibration.from_json(path.read_text())


def save_calibration(calibration: Calibration, path: Path = CALIBRATION_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration.to_json() + "\n")
    return path


def _weekly_rates(days: list[list[date]], last_day: date) -> tuple[list[float], tuple[float, float]]:
    """Repeat occasions per week since the first, shrunk by a gamma prior fitted to all customers.

    Customer i made x_i repeat occasions in T_i weeks; with x_i ~ Poisson(λ_i T_i) and λ_i ~ Gamma(a, b) the
    marginal of x_i is negative binomial, whose likelihood gives (a, b); the posterior mean is (a + x_i)/(b + T_i).
    """
    repeats = np.array([len(ds) - 1 for ds in days], dtype=float)
    exposure = np.array([max((last_day - ds[0]).days, 1) / 7 for ds in days])

    def negative_log_likelihood(log_ab: np.ndarray) -> float:
        a, b = np.exp(log_ab)
        ll = (
            special.gammaln(a + repeats)
            - special.gammaln(a)
            - special.gammaln(repeats + 1)
            + a * np.log(b / (b + exposure))
            + repeats * np.log(exposure / (b + exposure))
        )
        return -float(ll.sum())

    fit = optimize.minimize(negative_log_likelihood, x0=np.log([1.0, 10.0]), method="Nelder-Mead")
    a, b = np.exp(fit.x)
    return list((a + repeats) / (b + exposure)), (float(a), float(b))


def _weibull_shape(days: list[list[date]]) -> float:
    """Pooled Weibull shape of inter-occasion gaps, each customer with its own scale profiled out."""
    gaps = [np.diff([d.toordinal() for d in ds]).astype(float) / 7 for ds in days if len(ds) >= MIN_OCCASIONS_FOR_SHAPE]
    if not gaps:
        return 1.0

    def negative_profile_log_likelihood(k: float) -> float:
        total = 0.0
        for x in gaps:
            m = len(x)
            total += m * math.log(k) - m * math.log(np.mean(x**k)) + (k - 1) * np.log(x).sum() - m
        return -total

    return float(optimize.minimize_scalar(negative_profile_log_likelihood, bounds=(0.2, 5.0), method="bounded").x)


def _basket_logs(values: list[list[float]]) -> tuple[list[float], float, tuple[float, float]]:
    """Shrunk per-customer log-basket means, the pooled within-customer sd, and the population prior."""
    logs = [np.log(v) for v in values]
    n = np.array([len(x) for x in logs], dtype=float)
    means = np.array([x.mean() for x in logs])
    within = sum(((x - x.mean()) ** 2).sum() for x in logs) / max(float((n - 1).sum()), 1.0)
    prior_mean = float(means.mean())
    prior_var = max(float(means.var() - np.mean(within / n)), 1e-3)
    shrunk = (n * means / within + prior_mean / prior_var) / (n / within + 1 / prior_var)
    return list(shrunk), math.sqrt(within), (prior_mean, math.sqrt(prior_var))


def _season_index(days: list[list[date]], first_day: date, last_day: date) -> tuple[date, list[float]]:
    """Occasions in each of the last SEASON_WEEKS full Monday-weeks, over the mean open full week."""
    first_monday = first_day + timedelta(days=(7 - first_day.weekday()) % 7)
    n_weeks = ((last_day - first_monday).days + 1) // 7
    counts = np.zeros(n_weeks)
    for ds in days:
        for d in ds:
            week = (d - first_monday).days // 7
            if 0 <= week < n_weeks:
                counts[week] += 1
    if n_weeks < SEASON_WEEKS:
        raise ValueError(f"the data covers {n_weeks} full weeks; the season needs {SEASON_WEEKS}")
    open_weeks = counts[counts >= CLOSED_WEEK_SHARE * np.median(counts)]
    season = counts[-SEASON_WEEKS:] / open_weeks.mean()
    return first_monday + timedelta(weeks=n_weeks - SEASON_WEEKS), list(season)
