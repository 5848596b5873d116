"""The FastAPI application: `create_app()` wires settings, lifespan, middlewares and routers.

Run it with `uvicorn api.main:create_app --factory` (what `scripts/serve` does).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Scope

from api import __version__
from api.common.logging import configure_logging
from api.common.loop_monitor import LoopMonitor
from api.config import ConfigurationError, Environment, Settings, load_settings
from api.domain.errors import TenantNotFound
from api.domain.tenancy import TenancyStrategy, TenantId
from api.interfaces.http.errors import register_error_handlers
from api.interfaces.http.middleware.body_limit import BodyLimitMiddleware
from api.interfaces.http.middleware.forwarded import ForwardedHeadersMiddleware
from api.interfaces.http.middleware.public_cors import PublicCorsMiddleware
from api.interfaces.http.middleware.request_id import RequestIdMiddleware
from api.interfaces.http.middleware.security_headers import SecurityHeadersMiddleware
from api.interfaces.http.middleware.tenant import TenantMiddleware
from api.interfaces.http.openapi import install_openapi, operation_id
from api.interfaces.http.route_guards import guard_routes
from api.interfaces.http.routers import assistants as assistant_routes
from api.interfaces.http.routers.ai import admin as ai_admin_routes
from api.interfaces.http.routers.ai import ask as ai_ask_routes
from api.interfaces.http.routers.ai import conversations as ai_conversation_routes
from api.interfaces.http.routers.ai import knowledge as knowledge_routes
from api.interfaces.http.routers.ai import models as ai_model_routes
from api.interfaces.http.routers.analytics import dashboard as analytics_routes
from api.interfaces.http.routers.analytics import platform as platform_analytics_routes
from api.interfaces.http.routers.crm import callbacks as callback_routes
from api.interfaces.http.routers.crm import departments as department_routes
from api.interfaces.http.routers.crm import lead_imports as lead_import_routes
from api.interfaces.http.routers.crm import leads as lead_routes
from api.interfaces.http.routers.crm import meetings as meeting_routes
from api.interfaces.http.routers.crm import tickets as ticket_routes
from api.interfaces.http.routers.crm import transcripts as transcript_routes
from api.interfaces.http.routers.files import files as file_routes
from api.interfaces.http.routers.files import storage as storage_routes
from api.interfaces.http.routers.identity import account, auth
from api.interfaces.http.routers.identity import api_keys as api_key_routes
from api.interfaces.http.routers.identity import audit as audit_routes
from api.interfaces.http.routers.identity import roles as role_routes
from api.interfaces.http.routers.identity import users as user_routes
from api.interfaces.http.routers.messaging import campaigns as campaign_routes
from api.interfaces.http.routers.messaging import channels as channel_routes
from api.interfaces.http.routers.messaging import contact_exports as contact_export_routes
from api.interfaces.http.routers.messaging import contact_imports as contact_import_routes
from api.interfaces.http.routers.messaging import contacts as contact_routes
from api.interfaces.http.routers.messaging import (
    conversation_department as conversation_department_routes,
)
from api.interfaces.http.routers.messaging import conversation_read as read_routes
from api.interfaces.http.routers.messaging import inbox as inbox_routes
from api.interfaces.http.routers.messaging import inbox_actions as inbox_action_routes
from api.interfaces.http.routers.messaging import inbox_settings as inbox_settings_routes
from api.interfaces.http.routers.messaging import meta_webhooks as meta_webhook_routes
from api.interfaces.http.routers.messaging import sending as sending_routes
from api.interfaces.http.routers.messaging import teams as team_routes
from api.interfaces.http.routers.messaging import templates as template_routes
from api.interfaces.http.routers.messaging import webhooks as webhook_routes
from api.interfaces.http.routers.operations import health
from api.interfaces.http.routers.operations.metrics import install_metrics
from api.interfaces.http.routers.tenants import plans as plan_routes
from api.interfaces.http.routers.tenants import platform as tenants
from api.interfaces.http.routers.tenants import signup as signup_routes
from api.interfaces.http.routers.tenants import tenant
from api.interfaces.ws import inbox as inbox_socket
from api.usecases.identity.ensure_platform_admin import EnsurePlatformAdmin
from api.usecases.kernel.tenancy import ResolveTenant
from api.usecases.kernel.tenant_setup import EnsureTenantSetup
from api.usecases.tenants.ensure_default_tenant import EnsureDefaultTenant
from api.wiring import UNAVAILABLE_ERRORS, running, start_listeners

log = logging.getLogger("parley")

DOCS_PATHS = ("/docs", "/redoc", "/openapi.json")


_startup_heap_frozen = False
# Container objects allocated (net) before a young collection: Python's 700 made 50 AI
# streams at once collect ~4 times per answer, each pass over every object the running
# streams hold (a fifth of the process's CPU, and each 10th pass a gen-1 one of up to
# 30-40 ms; bench/README.md, "AI streaming"). Objects of a request mostly die by their
# reference count well before 10,000 allocations; the older generations keep their ratios.
YOUNG_COLLECTION_THRESHOLD = 10_000


def _freeze_startup_heap() -> None:
    """Everything built at start-up lives as long as the process: out of the collector's
    sight, so that a full collection walks only what requests create (it walked the whole
    start-up heap, holding the loop for 100-400 ms under load). Once per process: an app
    started again in the same process (the tests start one per test) is not the process's
    start-up heap, and a full collection each time costs 0.1-0.2 s of CPU. The young
    generation is then collected less often (`YOUNG_COLLECTION_THRESHOLD`)."""
    global _startup_heap_frozen
    if not _startup_heap_frozen:
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
        _startup_heap_frozen = True


def build_routes(app: FastAPI) -> None:
    """Build every route (its dependency tree) before serving, with the OpenAPI document.

    FastAPI builds an included router's routes when a request first walks it: the first
    `POST /ai/ask` of a process built the routers before the AI one and held the loop for
    40-70 ms of CPU, 180-300 ms under load (bench/ai_stream.py's one stall a run). About
    1 s of CPU at start-up instead, before any request waits. Not in tests, where each
    test starts an app and walks few routers."""
    app.openapi()


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings) as container:
            app.state.container = container
            start_listeners(container)  # stop requests from any replica (the API only)
            if settings.environment is not Environment.TEST:
                build_routes(app)
            _freeze_startup_heap()
            monitor = LoopMonitor(settings.loop_block_warn_ms)
            if settings.loop_block_warn_ms:
                monitor.start()
            app.state.default_tenant_id = None
            await container.resolve(EnsurePlatformAdmin).execute(
                settings.security.admin_email,
                settings.security.admin_password.get_secret_value(),
            )
            if settings.tenancy.multi_tenancy_strategy is TenancyStrategy.NONE:
                default = await container.resolve(EnsureDefaultTenant).execute(
                    settings.tenancy.default_tenant_name, settings.tenancy.default_tenant_subdomain
                )
                await container.resolve(EnsureTenantSetup).execute(default.id or "")
                app.state.default_tenant_id = default.id
            log.info(
                "Parley %s started (environment=%s, tenancy=%s)",
                __version__,
                settings.environment.value,
                settings.tenancy.multi_tenancy_strategy.value,
            )
            try:
                yield
            finally:
                await monitor.stop()

    return lifespan


def _resolver(scope: Scope) -> ResolveTenant:
    resolver: ResolveTenant = scope["app"].state.container.resolve(ResolveTenant)
    return resolver


def _default_tenant(scope: Scope) -> TenantId:
    tenant_id = getattr(scope["app"].state, "default_tenant_id", None)
    if tenant_id is None:
        raise TenantNotFound("The default tenant is not set up.")
    return TenantId(tenant_id)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; settings come from the environment unless given."""
    if settings is None:
        try:
            settings = load_settings()
        except ConfigurationError as exc:
            raise SystemExit(f"Parley cannot start: {exc}") from None
    configure_logging(level=settings.log_level, json=settings.json_logs)

    app = FastAPI(
        title=settings.app_name,
        version=__version__,
        summary="Multi-tenant backend for SaaS products that talk to their customers.",
        lifespan=_lifespan(settings),
        generate_unique_id_function=operation_id,
    )
    register_error_handlers(app, unavailable=UNAVAILABLE_ERRORS)
    app.include_router(health.router)
    # FastAPI matches a request against every route of the routers included before the
    # one that serves it: the providers' webhooks, the busiest routes, come first.
    app.include_router(webhook_routes.router, prefix=settings.api_prefix)
    app.include_router(meta_webhook_routes.router, prefix=settings.api_prefix)
    app.include_router(tenant.router, prefix=settings.api_prefix)
    app.include_router(auth.router, prefix=settings.api_prefix)
    app.include_router(user_routes.router, prefix=settings.api_prefix)
    app.include_router(role_routes.router, prefix=settings.api_prefix)
    app.include_router(audit_routes.router, prefix=settings.api_prefix)
    app.include_router(api_key_routes.router, prefix=settings.api_prefix)
    app.include_router(account.router, prefix=settings.api_prefix)
    app.include_router(storage_routes.router, prefix=settings.api_prefix)
    app.include_router(file_routes.router, prefix=settings.api_prefix)
    app.include_router(ai_model_routes.router, prefix=settings.api_prefix)
    app.include_router(ai_ask_routes.router, prefix=settings.api_prefix)
    app.include_router(ai_conversation_routes.router, prefix=settings.api_prefix)
    app.include_router(ai_admin_routes.router, prefix=settings.api_prefix)
    app.include_router(knowledge_routes.router, prefix=settings.api_prefix)
    app.include_router(channel_routes.router, prefix=settings.api_prefix)
    app.include_router(inbox_routes.conversations, prefix=settings.api_prefix)
    app.include_router(inbox_routes.messages, prefix=settings.api_prefix)
    app.include_router(inbox_action_routes.router, prefix=settings.api_prefix)
    app.include_router(team_routes.router, prefix=settings.api_prefix)
    app.include_router(template_routes.router, prefix=settings.api_prefix)
    app.include_router(inbox_socket.router, prefix=settings.api_prefix)  # WebSocket: no OpenAPI
    # Before the contacts: `/contacts/imports` must win over `/contacts/{contact_id}`.
    app.include_router(contact_import_routes.router, prefix=settings.api_prefix)
    app.include_router(contact_export_routes.router, prefix=settings.api_prefix)
    app.include_router(transcript_routes.router, prefix=settings.api_prefix)
    app.include_router(contact_routes.contacts, prefix=settings.api_prefix)
    app.include_router(contact_routes.segments, prefix=settings.api_prefix)
    app.include_router(campaign_routes.router, prefix=settings.api_prefix)
    app.include_router(sending_routes.router, prefix=settings.api_prefix)
    app.include_router(read_routes.router, prefix=settings.api_prefix)
    app.include_router(meeting_routes.router, prefix=settings.api_prefix)
    app.include_router(ticket_routes.router, prefix=settings.api_prefix)
    app.include_router(inbox_settings_routes.router, prefix=settings.api_prefix)
    app.include_router(analytics_routes.router, prefix=settings.api_prefix)
    app.include_router(assistant_routes.router, prefix=settings.api_prefix)
    app.include_router(callback_routes.public, prefix=settings.api_prefix)
    app.include_router(callback_routes.router, prefix=settings.api_prefix)
    # Before the leads: `/leads/imports` must win over `/leads/{lead_id}`.
    app.include_router(lead_import_routes.router, prefix=settings.api_prefix)
    app.include_router(lead_routes.router, prefix=settings.api_prefix)
    app.include_router(lead_routes.conversation_router, prefix=settings.api_prefix)
    app.include_router(department_routes.router, prefix=settings.api_prefix)
    app.include_router(conversation_department_routes.router, prefix=settings.api_prefix)
    if settings.tenancy.multi_tenancy_strategy is not TenancyStrategy.NONE:
        app.include_router(tenants.router, prefix=settings.api_prefix)  # the platform plane
        app.include_router(signup_routes.router, prefix=settings.api_prefix)
        app.include_router(plan_routes.router, prefix=settings.api_prefix)
        app.include_router(platform_analytics_routes.router, prefix=settings.api_prefix)
    install_openapi(
        app, strategy=settings.tenancy.multi_tenancy_strategy, api_prefix=settings.api_prefix
    )

    # add_middleware wraps: the last added runs first.
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(
        TenantMiddleware,
        strategy=settings.tenancy.multi_tenancy_strategy,
        main_domain=settings.tenancy.host_main_domain,
        resolver=_resolver,
        default_tenant=_default_tenant,
        public_prefixes=(f"{settings.api_prefix}/webhooks/",),
    )
    if settings.security.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.security.cors_origins,
            allow_credentials=settings.security.cors_allow_credentials,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    # Outside the app-wide CORS and the tenant: the public forms answer any origin.
    app.add_middleware(PublicCorsMiddleware, prefixes=(f"{settings.api_prefix}/public/",))
    app.add_middleware(
        SecurityHeadersMiddleware, hsts=settings.is_production, docs_paths=DOCS_PATHS
    )
    app.add_middleware(RequestIdMiddleware)
    install_metrics(app, settings)  # last added, so it runs first and sees every response
    guard_routes(app)  # every route is in: a router that cannot match a path is not walked
    # Outermost: every middleware, metrics included, sees the real client and scheme.
    if settings.server.forwarded_allow_ips:
        app.add_middleware(
            ForwardedHeadersMiddleware, trusted_proxies=settings.server.forwarded_allow_ips
        )
    return app
