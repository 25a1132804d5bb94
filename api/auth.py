"""API keys in the `X-API-Key` header, each granting scopes; `admin` grants them all.

A handler states the scope it needs in its `opt` (`opt=needs(Scope.OFFERS_WRITE)`); the guard on the
`/v1` router refuses a handler that states none, so a route added without thought is closed, not open.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.openapi.spec import Components, SecurityScheme

API_KEY_HEADER = "X-API-Key"
SECURITY_SCHEME = "apiKey"


class Scope(StrEnum):
    OFFERS_WRITE = "offers:write"
    EVENTS_WRITE = "events:write"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    AGENT_USE = "agent:use"
    ADMIN = "admin"


def needs(scope: Scope) -> dict[str, Any]:
    """The `opt` of a handler that requires `scope`."""
    return {"scope": scope}


class KeyRing:
    """Looks keys up in constant time: every stored key is compared, as digests of equal length."""

    def __init__(self, keys: dict[str, frozenset[str]]) -> None:
        self._entries = [(_digest(key), scopes) for key, scopes in keys.items()]

    def __len__(self) -> int:
        return len(self._entries)

    def scopes_of(self, presented: str) -> frozenset[str] | None:
        digest = _digest(presented)
        found: frozenset[str] | None = None
        for stored, scopes in self._entries:
            if hmac.compare_digest(stored, digest):
                found = scopes
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Guard: 401 without a known key, 403 when the key lacks the handler's scope."""
    presented = connection.headers.get(API_KEY_HEADER)
    if not presented:
        raise NotAuthorizedException(f"this endpoint needs an API key in the {API_KEY_HEADER} header")
    keys: KeyRing = connection.app.state.runtime.keys
    scopes = keys.scopes_of(presented)
    if scopes is None:
        raise NotAuthorizedException("the API key is not known")
    needed = handler.opt.get("scope")
    if Scope.ADMIN in scopes or (needed is not None and needed in scopes):
        return
    raise PermissionDeniedException(f"the API key lacks the {needed or Scope.ADMIN!s} scope")


SECURITY_COMPONENTS = Components(
    security_schemes={
        SECURITY_SCHEME: SecurityScheme(
            type="apiKey",
            name=API_KEY_HEADER,
            security_scheme_in="header",
            description="Scopes: offers:write, events:write, catalog:read, catalog:write, agent:use; admin grants all.",
        )
    }
)
