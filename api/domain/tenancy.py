"""The tenant a piece of work runs for, carried in a context variable.

Only the tenant resolver (from a request) and the token decoder mint a `TenantId`;
repositories read it from here and never take it from their callers. With no tenant set,
tenant-scoped work fails closed with `TenantRequired`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import NewType

from api.domain.errors import TenantRequired

TenantId = NewType("TenantId", str)


class TenancyStrategy(StrEnum):
    """How a request names its tenant."""

    HEADER = "header"  # X-Tenant-ID: <tenant id>
    SUBDOMAIN = "subdomain"  # Host: <subdomain>.<HOST_MAIN_DOMAIN>
    NONE = "none"  # one default tenant for the whole deployment


_current_tenant: ContextVar[TenantId | None] = ContextVar("parley_tenant", default=None)


def current_tenant() -> TenantId:
    """The tenant in context; raises `TenantRequired` when there is none."""
    tenant_id = _current_tenant.get()
    if tenant_id is None:
        raise TenantRequired("This operation needs a tenant and none is set.")
    return tenant_id


def current_tenant_or_none() -> TenantId | None:
    """The tenant in context, or None in the platform plane."""
    return _current_tenant.get()


@contextmanager
def tenant_context(tenant_id: TenantId | None) -> Iterator[None]:
    """Run a block for `tenant_id` (None: the platform plane), restoring the outer one after."""
    token = _current_tenant.set(tenant_id)
    try:
        yield
    finally:
        _current_tenant.reset(token)
