"""Every error as `application/problem+json` (RFC 9457), whoever raised it.

Litestar's own errors (unknown route, wrong method, malformed JSON, failed validation), the guards'
401/403, the services' domain errors and anything unexpected all leave through these handlers, so a
client parses one shape. Body validation answers 422 (not Litestar's default 400) and names each field.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from core.errors import OfferpilotError

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "tag:offerpilot,2026:problem:"

log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """The body of every error (RFC 9457); `field` and `errors` name what to fix, when a field is at fault."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    field: str | None = None
    errors: list[FieldError] | None = None


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a handler can answer with."""
    return {
        status: ResponseSpec(
            Problem, description=HTTPStatus(status).description, media_type=PROBLEM_JSON, generate_examples=False
        )
        for status in statuses
    }


def problem(
    request: Request[Any, Any, Any],
    status: int,
    *,
    kind: str | None = None,
    title: str | None = None,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response[dict[str, Any]]:
    """A problem document; `kind` names a problem type of ours, otherwise the status says it all."""
    body = {
        "type": PROBLEM_TYPE + kind if kind else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **{name: value for name, value in extensions.items() if value is not None},
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    errors = [
        {"field": item.get("key") or "body", "message": str(item.get("message", "")).removeprefix("Value error, ")}
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or exc.detail
    return problem(request, 422, kind="validation", title="Invalid request", detail=detail, errors=errors or None)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code >= 500:
        return _unexpected(request, exc)
    return problem(request, exc.status_code, detail=exc.detail, headers=exc.headers)


def _domain(request: Request[Any, Any, Any], exc: OfferpilotError) -> Response[dict[str, Any]]:
    problems = getattr(exc, "problems", None) or ([(exc.field, exc.detail)] if exc.field else [])
    errors = [{"field": field, "message": message} for field, message in problems]
    kind = exc.title.lower().replace(" ", "-")
    return problem(
        request, exc.status, kind=kind, title=exc.title, detail=exc.detail, field=exc.field, errors=errors or None
    )


def _integrity(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[dict[str, Any]]:
    """Two writers raced for the same key (e.g. creating one coupon twice at once): the loser may retry."""
    log.warning("write_conflict", method=request.method, path=request.url.path, error=type(exc.orig).__name__)
    return problem(request, 409, kind="conflict", detail="a concurrent request changed the same record; retry")


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Log the stack trace for operators; the client learns only that it was our fault."""
    log.error("unhandled_error", method=request.method, path=request.url.path, exc_info=exc)
    return problem(request, 500, detail="The server failed to handle this request; it has been logged.")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ValidationException: _validation,
    HTTPException: _http,
    OfferpilotError: _domain,
    IntegrityError: _integrity,
    Exception: _unexpected,
}
