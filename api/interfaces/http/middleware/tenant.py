"""Resolve the request's tenant before any route runs, and keep it in context (fail closed).

- `header`: `X-Tenant-ID: <tenant id>`; no header means the platform plane.
- `subdomain`: the Host's label directly under `HOST_MAIN_DOMAIN` (port ignored); the bare
  domain, `www` and hosts outside the domain are the platform plane; deeper hosts are
  refused.
- `none`: every request runs in the one default tenant.

Paths under `public_prefixes` (the providers' webhooks) are passed through with no tenant:
their use cases take the tenant from the channel they name, never from the request.

A malformed (400), unknown (404) or suspended (403) tenant is answered with a problem
response here, and the route never runs. The context is reset when the request ends; the
resolved tenant is also left in the ASGI scope (`RESOLVED_TENANT`), for the access line
written after that.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.domain.departments import department_scope
from api.domain.errors import InvalidTenant, ParleyError
from api.domain.tenancy import TenancyStrategy, TenantId, tenant_context
from api.interfaces.http.errors import domain_error_response
from api.interfaces.http.problems import send_problem
from api.usecases.kernel.tenancy import ResolveTenant

TENANT_HEADER = b"x-tenant-id"
RESOLVED_TENANT = "parley.tenant_id"  # scope key: the tenant id, or None (platform plane)
PLATFORM_LABELS = frozenset({"www"})


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def subdomain_label(host: str, main_domain: str) -> str | None:
    """The tenant label in `host` under `main_domain`, or None for the platform plane."""
    hostname = host.strip().lower().rstrip(".")
    if hostname.startswith("["):  # IPv6 literal: never a tenant
        return None
    hostname = hostname.rsplit(":", 1)[0] if ":" in hostname else hostname
    suffix = "." + main_domain
    if hostname == main_domain or not hostname.endswith(suffix):
        return None
    label = hostname[: -len(suffix)]
    if "." in label:
        raise InvalidTenant("The host is not a tenant subdomain of this service.")
    return None if label in PLATFORM_LABELS else label


class TenantMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        strategy: TenancyStrategy,
        main_domain: str,
        resolver: Callable[[Scope], ResolveTenant],
        default_tenant: Callable[[Scope], TenantId],
        public_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.strategy = strategy
        self.main_domain = main_domain
        self.resolver = resolver
        self.default_tenant = default_tenant
        self.public_prefixes = public_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.public_prefixes and str(scope.get("path", "")).startswith(self.public_prefixes):
            # Public routes whose tenant comes from what they name (a webhook's channel):
            # no tenant is resolved here, whatever the request says.
            await self.app(scope, receive, send)
            return
        try:
            tenant_id = await self._resolve(scope)
        except ParleyError as error:
            if scope["type"] == "http":
                await send_problem(send, domain_error_response(error))
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        scope[RESOLVED_TENANT] = tenant_id
        # The department scope starts unlimited; authentication narrows it for a limited
        # caller, and it ends with the request (never leaking into what runs after).
        with tenant_context(tenant_id), department_scope(None):
            await self.app(scope, receive, send)

    async def _resolve(self, scope: Scope) -> TenantId | None:
        if self.strategy is TenancyStrategy.NONE:
            return self.default_tenant(scope)
        if self.strategy is TenancyStrategy.HEADER:
            raw = _header(scope, TENANT_HEADER)
            if raw is None:
                return None
            return await self.resolver(scope).by_id(raw)
        label = subdomain_label(_header(scope, b"host") or "", self.main_domain)
        if label is None:
            return None
        return await self.resolver(scope).by_subdomain(label)
