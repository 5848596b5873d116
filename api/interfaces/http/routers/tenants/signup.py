"""Self-service sign-up (`/api/v1/signup`): public, in the platform plane (any tenant the
request names is ignored). Mounted with the tenant routes (not with
`MULTI_TENANCY_STRATEGY=none`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from api.interfaces.http.deps import Inject
from api.interfaces.http.openapi import NO_TENANT
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.auth import AcceptedOut, TokenIn
from api.interfaces.http.schemas.tenants import SignupIn
from api.usecases.tenants.signups import SignUpTenant, VerifySignup

router = APIRouter(prefix="/signup", tags=["tenants"])


@router.post(
    "",
    status_code=202,
    summary="Sign up an organisation (self-service)",
    description=(
        "Public. Creates a `pending` tenant with its system roles and its owner (this "
        "email, password and name), and emails the owner a link to confirm the address "
        "(`POST /signup/verify` with its token). A pending tenant serves nothing (403 "
        "`tenant_pending`) until a platform admin approves it (`POST /tenants/{id}/"
        "approve`, once the address is confirmed), or, with `SIGNUP_AUTO_APPROVE`, until "
        "the address is confirmed. Subdomain rules as for any tenant: 422 invalid or "
        "reserved, 409 taken. The password policy applies (422). Limited per IP (429). "
        "404 when `SIGNUP_ENABLED` is off."
    ),
    responses=problem_responses(404, 409, 422, 429, 503),
    openapi_extra=NO_TENANT,
)
async def sign_up(
    body: SignupIn, use_case: Annotated[SignUpTenant, Inject(SignUpTenant)]
) -> AcceptedOut:
    await use_case.execute(**body.model_dump())
    return AcceptedOut(detail="Check your email to confirm your address; we review sign-ups.")


@router.post(
    "/verify",
    status_code=204,
    summary="Confirm a sign-up's email address",
    description=(
        "Takes the token of the sign-up's confirmation email. A bad, used or expired token "
        "is 400 `invalid_token`. With `SIGNUP_AUTO_APPROVE` the tenant becomes active now "
        "and its owner is told by email; without it, every active platform admin is told "
        "by email that the sign-up awaits their review."
    ),
    responses=problem_responses(400, 422, 429),
    openapi_extra=NO_TENANT,
)
async def verify_signup(
    body: TokenIn, use_case: Annotated[VerifySignup, Inject(VerifySignup)]
) -> Response:
    await use_case.execute(body.token)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
