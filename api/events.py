"""`/v1/events`: a batch of view, search, cart, purchase and refund events, written all or none."""

from __future__ import annotations

from litestar import Router, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from api.auth import Scope, needs
from api.errors import problem_responses
from api.runtime import Runtime
from api.schemas import EventBatchBody, EventsAccepted
from services import catalog


@post(
    "/events",
    opt=needs(Scope.EVENTS_WRITE),
    sync_to_thread=True,
    status_code=201,
    responses=problem_responses(401, 403, 422),
)
def add_events(data: JSONBody[EventBatchBody], runtime: NamedDependency[Runtime]) -> EventsAccepted:
    """422 naming `events.N.field` for the first bad item or unknown reference; then nothing is written."""
    return EventsAccepted(accepted=catalog.add_events(runtime.db, data.events))


router = Router("/", route_handlers=[add_events], tags=["events"])
