"""What the handlers share: settings, the store, the offer service, keys, metrics and the clock.

One object in `app.state`, injected into handlers as `runtime`, so a test can build an app around its
own store, service and clock without patching anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from litestar.datastructures import State

from api.auth import KeyRing
from api.metrics import Metrics
from core.config import Settings
from services.offers import OfferService
from store.db import Database

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    service: OfferService
    keys: KeyRing
    metrics: Metrics
    clock: Clock = utc_now
    # Whether the app built the database itself and so must dispose of it at shutdown.
    owns_db: bool = False

    @property
    def db(self) -> Database:
        return self.service.db


def provide_runtime(state: State) -> Runtime:
    return state.runtime
