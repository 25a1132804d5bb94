"""Domain errors that every shell (HTTP, CLI, agent) maps to its own way of saying no."""

from __future__ import annotations


class OfferpilotError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(OfferpilotError):
    status = 404
    title = "Not found"


class Conflict(OfferpilotError):
    status = 409
    title = "Conflict"


class InvalidInput(OfferpilotError):
    status = 422
    title = "Invalid input"


class NotReady(OfferpilotError):
    status = 503
    title = "Service not ready"
