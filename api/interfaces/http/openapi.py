"""The OpenAPI document, shaped for real clients: Swagger's "Try it out" and generated SDKs.

FastAPI's document is refined once, the first time it is asked for:

- operation ids read `<tag>_<verb>` (`users_list`, `users_get`, `auth_me`) instead of
  FastAPI's `list_users_api_v1_users_get` (`operation_id`, given to FastAPI at construction);
- with the `header` tenancy strategy, every operation that runs in a tenant declares the
  `X-Tenant-ID` header: required where the work needs a tenant (the default under the API
  prefix), optional where it runs in either plane (routes marked `EITHER_PLANE`: sign-in,
  `/auth/me`, ...), absent on the platform plane's and the tenant-less public routes
  (marked `NO_TENANT`) and outside the API prefix (health);
- operations that run in a tenant document the tenant's own errors (400 malformed or
  missing, 403 suspended, 404 unknown) when they do not already;
- every error is `application/problem+json` with the `Problem` schema: FastAPI's
  `HTTPValidationError` answers are replaced (the app answers 422 as a problem too);
- every tag has a description (`TAGS`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.domain.tenancy import TenancyStrategy
from api.interfaces.http.problems import Problem, problem_response_doc

TENANT_HEADER = "X-Tenant-ID"
# What a client sends (the server also forgives case and surrounding spaces).
TENANT_ID_PATTERN = "^[0-9a-fA-F]{24}$"
PLANE_EXTENSION = "x-parley-tenant"  # read and removed here: never in the served document

EITHER_PLANE: dict[str, Any] = {PLANE_EXTENSION: "optional"}
"""`openapi_extra` of a route that runs in a tenant or in the platform plane."""

NO_TENANT: dict[str, Any] = {PLANE_EXTENSION: "none"}
"""`openapi_extra` of a route under the API prefix that takes no tenant header (the
platform plane's, or one whose tenant comes from elsewhere, such as a signed link)."""

TAGS: list[dict[str, Any]] = [
    {"name": "health", "description": "Liveness and the health of each dependency."},
    {
        "name": "tenancy",
        "description": "The tenant a request runs for (public: shown before sign-in).",
    },
    {
        "name": "auth",
        "description": (
            "Sign-in (with optional TOTP two-factor), token refresh, sign-out, the current "
            "user, self-service sign-up, password reset and email verification."
        ),
    },
    {"name": "users", "description": "A tenant's users: profiles, roles, activation, avatars."},
    {
        "name": "roles",
        "description": "The permission catalog and a tenant's roles (with inheritance).",
    },
    {"name": "audit", "description": "Who did what to which resource, and when."},
    {
        "name": "keys",
        "description": (
            "A tenant's API keys for server-to-server integrations: `Authorization: Bearer "
            "pk_...` or `X-API-Key: pk_...`."
        ),
    },
    {"name": "storage", "description": "A tenant's file storage provider and its settings."},
    {"name": "files", "description": "Uploads, file metadata and signed download links."},
    {
        "name": "ai",
        "description": (
            "AI chat: models, streamed answers (SSE), conversations and their history, "
            "usage and limits."
        ),
    },
    {
        "name": "channels",
        "description": (
            "Messaging channels: connect a WhatsApp Cloud API number (checked with Meta's "
            "Graph API), rotate its token, disconnect it."
        ),
    },
    {
        "name": "webhooks",
        "description": (
            "The providers' webhooks (public, signed by the provider): verification and "
            "deliveries, stored raw and processed once per item by a job."
        ),
    },
    {
        "name": "inbox",
        "description": (
            "The shared inbox: conversations (one unresolved per contact and channel) and "
            "their messages, inbound and outbound, with delivery statuses; cursor paging; "
            "agents' actions (assign, claim, resolve, reopen, snooze, tags, priority, "
            "private notes), each audited and pushed in real time. "
            "Real time: the WebSocket `GET /api/v1/ws` (not describable in OpenAPI) sends "
            'these same shapes as events; its frames are in the README ("Real time").'
        ),
    },
    {
        "name": "templates",
        "description": (
            "WhatsApp message templates per channel: synced from Meta, created and "
            "submitted for approval, deleted; status webhooks keep them current."
        ),
    },
    {
        "name": "contacts",
        "description": (
            "Contacts (numbers in E.164, unique per tenant; tags, attributes, language; "
            "consent with its source and time; soft delete), segments (saved filters "
            "with a preview) and imports (CSV or XLSX files upserted by phone by a job, "
            "with progress and a report of the rows refused)."
        ),
    },
    {
        "name": "campaigns",
        "description": (
            "Broadcast WhatsApp template campaigns: an approved template with its variables "
            "mapped from contact fields, attributes or constants, an audience (segments, "
            "tags, contacts or all), sent now, at a time or on a cron in the tenant's time "
            "zone; runs that snapshot their audience (opted-out and deleted contacts "
            "skipped), recipient rows and stats. Illegal state changes are 409 "
            "`campaign_state_conflict`."
        ),
    },
    {
        "name": "assistants",
        "description": (
            "AI assistants: the tenant's model answers customers on its channels (structured "
            "reply or handoff to humans, never over an agent), with stats, and the documents they "
            "answer from (indexed, searched per question)."
        ),
    },
    {
        "name": "teams",
        "description": ("Teams of the tenant's users that inbox conversations are transferred to."),
    },
    {
        "name": "callbacks",
        "description": (
            "Callback requests: the public web form (any origin, rate limited per IP and "
            "per tenant, a honeypot field, phones in E.164) and the staff's list, "
            "assignment, completion and cancellation (illegal moves are 409 "
            "`callback_state_conflict`); a new request is emailed to its department."
        ),
    },
    {
        "name": "tickets",
        "description": (
            "CRM tickets: numbered per tenant without gaps, routed to departments, with SLA "
            "timers in the department's business hours, breaches escalated by email, comments "
            "and figures."
        ),
    },
    {
        "name": "departments",
        "description": (
            "CRM departments: members, SLA targets and business hours; conversations, leads, "
            "tickets and callback requests are routed to them, and a role can be limited to "
            "its holders' departments (`departments_only`)."
        ),
    },
    {
        "name": "analytics",
        "description": (
            "The tenant's dashboard: messages, conversations, response and resolution "
            "times, agents' load and campaigns, by the tenant's local days; cached briefly."
        ),
    },
    {
        "name": "meetings",
        "description": (
            "CRM meetings with contacts: stored in UTC, shown in the meeting's (or the "
            "tenant's) zone; a lifecycle (409 `meeting_state_conflict`), no overlapping "
            "meetings for one owner (409 `meeting_overlap`), reminders by email and "
            "WhatsApp template, each sent once."
        ),
    },
    {
        "name": "leads",
        "description": (
            "CRM leads: a contact's sales opportunity through the stages new, contacted, "
            "qualified, proposal, won, lost (illegal moves 409 `lead_stage_conflict`), with "
            "an amount in an ISO 4217 currency (a decimal string), source, owner (emailed "
            "when given a lead), department, notes and the history of every change; made "
            "by hand, from a conversation, or imported from a CSV or XLSX file by a job."
        ),
    },
    {
        "name": "transcripts",
        "description": (
            "Conversation transcripts for tickets and compliance: a job writes a whole "
            "conversation (messages, private notes, status changes, media as links) to a "
            "PDF or CSV file, offered by a signed link until it expires."
        ),
    },
    {
        "name": "tenants",
        "description": (
            "The platform plane: platform admins create and manage tenants (never with a "
            "tenant named); subdomain availability is public."
        ),
    },
    {
        "name": "plans",
        "description": (
            "The platform plane: platform admins define plans and their limits (seats, "
            "channels, messages per month, AI tokens per day, storage) and put tenants on "
            "them; past a limit an action is 402 `plan_limit_reached`."
        ),
    },
]

_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})
_VALIDATION_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")
_TENANT_ERRORS = {
    400: "the tenant is malformed (`invalid_tenant`), or none is named where one is needed "
    "(`tenant_required`)",
    403: "the tenant is suspended or rejected (`tenant_suspended`), or waits for approval "
    "(`tenant_pending`)",
    404: "no such tenant (`tenant_not_found`)",
}
_TENANT_DOCS = {
    TenancyStrategy.HEADER: (
        f"Name the tenant with the `{TENANT_HEADER}` header (a tenant id); without it a "
        "request runs in the platform plane."
    ),
    TenancyStrategy.SUBDOMAIN: (
        "The tenant is named by the host: `<subdomain>.<HOST_MAIN_DOMAIN>`; the bare "
        "domain is the platform plane."
    ),
    TenancyStrategy.NONE: "A single tenant: every request runs in it.",
}


def operation_id(route: APIRoute) -> str:
    """`<tag>_<name>`: the tag the path names (else the first), then the route's name
    without the tag's word (`list_users` under `users` is `users_list`)."""
    tags = [str(tag) for tag in route.tags]
    segments = set(route.path_format.split("/"))
    tag = next((t for t in tags if t in segments), tags[0] if tags else "api")
    prefix = tag.replace("-", "_").lower()
    skip = {prefix, prefix.removesuffix("s")}
    words = [word for word in route.name.lower().split("_") if word and word not in skip]
    return "_".join([prefix, *(words or sorted(route.methods or ())[:1])]).lower()


def install_openapi(app: FastAPI, *, strategy: TenancyStrategy, api_prefix: str) -> None:
    """Make `app` serve the refined document (at `/openapi.json`, `/docs`, `/redoc`)."""
    app.openapi_tags = TAGS

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = refine(
                FastAPI.openapi(app), strategy=strategy, api_prefix=api_prefix
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def refine(schema: dict[str, Any], *, strategy: TenancyStrategy, api_prefix: str) -> dict[str, Any]:
    """FastAPI's `schema`, refined as the module says (in place; returned)."""
    info = schema.setdefault("info", {})
    info["description"] = " ".join(
        part for part in (info.get("description"), _TENANT_DOCS[strategy]) if part
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _VALIDATION_ERROR_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(_problem_schemas())
    for path, item in schema.get("paths", {}).items():
        in_api = path == api_prefix or path.startswith(api_prefix + "/")
        for method, operation in item.items():
            if method in _METHODS:
                plane = operation.pop(PLANE_EXTENSION, "required" if in_api else "none")
                _refine_operation(operation, plane, strategy)
    return schema


def _refine_operation(operation: dict[str, Any], plane: str, strategy: TenancyStrategy) -> None:
    # The tag of the operation id first: generators group operations by their first tag.
    if tags := operation.get("tags"):
        first = [tag for tag in tags if operation.get("operationId", "").startswith(f"{tag}_")]
        operation["tags"] = first[:1] + [tag for tag in tags if tag not in first[:1]]
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for key, response in list(responses.items()):
        if _is_validation_error(response):
            responses[key] = problem_response_doc(int(key))
    if plane != "none" and strategy is not TenancyStrategy.NONE:
        if strategy is TenancyStrategy.HEADER:
            _declare_tenant_header(operation, required=plane == "required")
        for status, description in _TENANT_ERRORS.items():
            if str(status) in responses:
                documented = responses[str(status)]
                documented["description"] = f"{documented['description']}; or: {description}"
            else:
                responses[str(status)] = problem_response_doc(status, description.capitalize())
    if operation.get("security"):
        responses.setdefault("401", problem_response_doc(401))
    if "requestBody" in operation:  # every body is bounded (`MAX_JSON_BODY_BYTES` by default)
        responses.setdefault("413", problem_response_doc(413, BODY_TOO_LARGE))
    operation["responses"] = dict(sorted(responses.items()))


BODY_TOO_LARGE = (
    "The request body is over its limit (`payload_too_large`; JSON bodies "
    "`MAX_JSON_BODY_BYTES`, files their own limits), refused before it is read"
)


def _declare_tenant_header(operation: dict[str, Any], *, required: bool) -> None:
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    if any(p.get("in") == "header" and p.get("name") == TENANT_HEADER for p in parameters):
        return
    needs = (
        "Required: this operation runs in a tenant."
        if required
        else "Optional: without it the operation runs in the platform plane."
    )
    description = f"The tenant's id (24 hexadecimal digits). {needs}"
    parameters.insert(
        0,
        {
            "name": TENANT_HEADER,
            "in": "header",
            "required": required,
            "description": description,
            "schema": {
                "type": "string",
                "pattern": TENANT_ID_PATTERN,
                "title": "X-Tenant-ID",
                "description": description,
            },
        },
    )


def _is_validation_error(response: dict[str, Any]) -> bool:
    refs = {
        str(media.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1]
        for media in response.get("content", {}).values()
    }
    return bool(refs & set(_VALIDATION_ERROR_SCHEMAS))


def _problem_schemas() -> dict[str, Any]:
    """The `Problem` schema and the ones it refers to, as components."""
    problem = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    definitions: dict[str, Any] = problem.pop("$defs", {})
    return {**definitions, "Problem": problem}
