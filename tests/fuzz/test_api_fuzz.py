"""Schemathesis against the whole app on real servers: any input, no 500.

Every operation of the OpenAPI document is fuzzed (its examples, Schemathesis' boundary
and negative coverage cases, then random cases) as the tenant's owner (bearer token and
`X-Tenant-ID`), the platform's operations also as the platform admin; then each identity
drives the app statefully, through the links Schemathesis infers from the document (an id
one answer gives, a later request uses). Every response must pass:

- `not_a_server_error`: no 5xx;
- `status_code_conformance`, `content_type_conformance`, `response_headers_conformance`
  and `response_schema_conformance`: the status is one the operation documents, and the
  media type, headers and body are what the document says for it;
- `errors_are_problems` (below): every 4xx is `application/problem+json` with the
  RFC 9457 fields and its request id.

Each operation (and each stateful run) starts from a fresh world (`tests/fuzz/conftest.py`):
a tenant with its owner, the platform admin. Derandomized (fixed seed), so CI runs the same
cases every time; `FUZZ_EXAMPLES` in the environment raises the random cases per operation
(and the stateful scenarios) for a deeper local run, e.g. `FUZZ_EXAMPLES=500`.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CheckContext
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case as AnyCase
from schemathesis.generation.stateful.state_machine import APIStateMachine

from tests.fuzz.conftest import World, fuzz_examples
from tests.support.openapi import openapi_document

Case = AnyCase[Any]

# The document the app serves (it does not depend on where the servers are).
_DOCUMENT = openapi_document()
SEED = 20261206
# Unexpected methods: one per path is enough to see the 405 problem (all of them cost a
# seventh of the run).
_CONFIG = {"seed": SEED, "phases": {"coverage": {"unexpected-methods": ["PATCH"]}}}
schema = schemathesis.openapi.from_dict(
    _DOCUMENT, config=schemathesis.config.SchemathesisConfig.from_dict(_CONFIG)
)

Operation = tuple[str, str]

# Not fuzzed at all, and why:
EXCLUDED: dict[Operation, str] = {
    # Checks the settings with a real write/read/delete on the provider they name: fuzzed
    # S3 endpoints and Azure connection strings would send requests to arbitrary hosts on
    # the network. Its input is tested against moto and Azurite in tests/e2e/files.
    ("PUT", "/api/v1/storage"): "connects to the storage provider named in the body",
    # Check the channel with Meta's Graph API at the `graph_base_url` the body names (else
    # graph.facebook.com): fuzzed, they would send requests to arbitrary hosts. Their input
    # is tested against the fake Graph server in tests/e2e/messaging (where the fuzzer's
    # find, a token that cannot be a header value answering 500, is a regression test).
    ("POST", "/api/v1/channels/whatsapp"): "connects to the Graph API host in the body",
    ("PATCH", "/api/v1/channels/{channel_id}"): "connects to the Graph API host in the body",
    # Without Celery beat and a worker (none runs here) it answers its 503 status document
    # by design. It takes no input; tested in tests/e2e/operations.
    ("GET", "/health/jobs"): "503 by design without Celery beat",
}

# End (or could end) the caller's session: fuzzed with a session of their own, signed in
# afresh for every case; left out of the stateful runs, which share one session.
SESSION_ENDING: set[Operation] = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/change-password"),
    ("POST", "/api/v1/auth/mfa/enable"),
    ("POST", "/api/v1/auth/mfa/disable"),
}

# The platform admin's operations (no tenant): tenants, plans, the platform's analytics,
# sign-in and account, the catalog. The tenant's owner fuzzes all others; the platform's
# tenant, plan and analytics routes answer a tenant's token 403 before they read any
# input (tested in tests/e2e/tenants and tests/e2e/analytics), so they are fuzzed as the
# admin only.
PLATFORM_TAGS = {"auth", "tenants", "tenancy", "plans"}
PLATFORM_ONLY_TAGS = {"tenants", "plans"}
PLATFORM_PATHS = {"/api/v1/permissions", "/api/v1/analytics/platform"}
PLATFORM_ONLY_PATHS = {"/api/v1/analytics/platform"}


def _label(ctx: Any) -> Operation:
    return ctx.operation.method.upper(), ctx.operation.path


def _tags(ctx: Any) -> set[str]:
    return set(ctx.operation.definition.raw.get("tags", []))


fuzzed = schema.exclude(lambda ctx: _label(ctx) in EXCLUDED)
tenant_plane = fuzzed.exclude(
    lambda ctx: bool(PLATFORM_ONLY_TAGS & _tags(ctx)) or ctx.operation.path in PLATFORM_ONLY_PATHS
)
platform = fuzzed.include(
    lambda ctx: bool(PLATFORM_TAGS & _tags(ctx)) or ctx.operation.path in PLATFORM_PATHS
)


def errors_are_problems(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every error is an RFC 9457 problem: `application/problem+json`, with its fields."""
    if response.status_code < 400:
        return None
    media_type = (response.headers.get("content-type") or [""])[0]
    assert media_type.startswith("application/problem+json"), (
        f"{response.status_code} answered as {media_type!r}, not application/problem+json"
    )
    body = response.json()
    assert isinstance(body, dict), body
    for field in ("type", "title", "status", "detail", "code", "request_id"):
        assert field in body, f"the problem has no {field!r}: {body}"
    assert body["status"] == response.status_code, body
    assert body["type"] == f"urn:parley:problem:{body['code']}", body
    assert body["request_id"] == (response.headers.get("x-request-id") or [""])[0], body
    return None


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    errors_are_problems,
]

_COMMON: dict[str, Any] = {
    "derandomize": True,
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
    "phases": [Phase.explicit, Phase.generate],  # no shrinking: report the case as found
}
FUZZ = settings(max_examples=fuzz_examples(10), **_COMMON)
STATEFUL = settings(max_examples=fuzz_examples(10), stateful_step_count=8, **_COMMON)


def _headers(world: World, case: Case, admin: bool) -> dict[str, str]:
    if (case.method.upper(), case.path) in SESSION_ENDING:
        return world.sign_in_again(admin=admin)
    return world.admin if admin else world.owner


def _call(world: World, case: Case, *, admin: bool) -> None:
    case.call_and_validate(
        base_url=world.live.url,
        session=world.http,
        headers=_headers(world, case, admin),
        checks=CHECKS,
        timeout=30,
    )


@tenant_plane.parametrize()
@FUZZ
def test_as_tenant_owner(case: Case, world: World) -> None:
    _call(world, case, admin=False)


@platform.parametrize()
@FUZZ
def test_as_platform_admin(case: Case, world: World) -> None:
    _call(world, case, admin=True)


def _stateful(machine: type[APIStateMachine], world: World, *, admin: bool) -> None:
    """Scenarios of linked calls, each from a fresh world (so that what the app answers
    depends on the scenario alone, as Hypothesis needs to replay one)."""

    class Scenario(machine):  # type: ignore[valid-type,misc]
        def setup(self) -> None:
            world.reset()

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            headers = world.admin if admin else world.owner
            return {
                "base_url": world.live.url,
                "session": world.http,
                "headers": headers,
                "timeout": 30,
            }

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response, checks=CHECKS, headers=kwargs.get("headers"), transport_kwargs=kwargs
            )

    Scenario.run(settings=STATEFUL)


_ONE_SESSION = (lambda ctx: _label(ctx) in SESSION_ENDING,)


def test_stateful_as_tenant_owner(world: World) -> None:
    _stateful(tenant_plane.exclude(*_ONE_SESSION).as_state_machine(), world, admin=False)


def test_stateful_as_platform_admin(world: World) -> None:
    _stateful(platform.exclude(*_ONE_SESSION).as_state_machine(), world, admin=True)
