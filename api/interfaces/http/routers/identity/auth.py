"""Sign-in, token refresh, sign-out and the current user (`/api/v1/auth`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.interfaces.http.auth import CurrentUser
from api.interfaces.http.deps import Inject
from api.interfaces.http.openapi import EITHER_PLANE
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.auth import (
    AcceptedOut,
    LoginIn,
    LogoutIn,
    MeOut,
    MfaRequiredOut,
    MfaVerifyIn,
    OtpRequestIn,
    OtpVerifyIn,
    RefreshIn,
    TenantRef,
    TokensOut,
    UserOut,
)
from api.usecases.files.describe_profiles import DescribeProfiles
from api.usecases.identity.get_me import GetMe
from api.usecases.identity.login import Login, LoginResult
from api.usecases.identity.logout import Logout
from api.usecases.identity.refresh_tokens import RefreshTokens
from api.usecases.identity.sign_in_codes import RequestSignInCode, VerifySignInCode
from api.usecases.identity.verify_mfa_login import VerifyMfaLogin
from api.usecases.tenants.get_current_tenant import GetCurrentTenant

router = APIRouter(prefix="/auth", tags=["auth"])

_SIGN_IN = problem_responses(401, 422, 429)
_AUTHED = problem_responses(401, 403)


@router.post(
    "/login",
    summary="Sign in",
    description=(
        "Signs in within the tenant named by the request (or the platform plane). Wrong "
        "email and wrong password answer the same 401. With MFA on, answers "
        "`{mfa_required: true, mfa_token}`; post it with a code to `/auth/mfa/verify`."
    ),
    responses=_SIGN_IN,
    openapi_extra=EITHER_PLANE,
)
async def login(
    body: LoginIn, use_case: Annotated[Login, Inject(Login)]
) -> TokensOut | MfaRequiredOut:
    return _signed_in(await use_case.execute(body.email, body.password))


def _signed_in(result: LoginResult) -> TokensOut | MfaRequiredOut:
    if result.tokens is None:
        return MfaRequiredOut(mfa_token=result.mfa_token or "")
    return TokensOut(**result.tokens.model_dump())


@router.post(
    "/otp/request",
    status_code=202,
    summary="Email or WhatsApp a one-time sign-in code",
    description=(
        "Give `email` or `phone` (international, `+...`). Always 202 with the same body, "
        "whether or not an account matches: an active account of the tenant gets a "
        "six-digit code (through the job queue) by email, or by the tenant's WhatsApp "
        "authentication template when asked by phone and the tenant has an active WhatsApp "
        "channel. A code is valid `OTP_TTL_SECONDS` (5 minutes), works once, dies after "
        "`OTP_MAX_ATTEMPTS` wrong tries, and a new request replaces it. Limited per IP and "
        "per email or phone (429). Runs in the tenant named by the request (400 "
        "`tenant_required` without one)."
    ),
    responses=problem_responses(400, 422, 429, 503),
)
async def request_otp(
    body: OtpRequestIn, use_case: Annotated[RequestSignInCode, Inject(RequestSignInCode)]
) -> AcceptedOut:
    await use_case.execute(email=body.email, phone=body.phone)
    return AcceptedOut(detail="If an account matches, a sign-in code is on its way.")


@router.post(
    "/otp/verify",
    summary="Sign in with a one-time code",
    description=(
        "`email` or `phone` as asked, and the six-digit `code`: tokens, like `/auth/login` "
        "(with MFA on, `{mfa_required: true, mfa_token}`). Unknown account, wrong, expired, "
        "used or replaced code: the same 401. Wrong codes count towards the account's "
        "lockout like wrong passwords (429 while locked). Runs in the tenant named by the "
        "request (400 `tenant_required` without one)."
    ),
    responses=problem_responses(400, 401, 422, 429),
)
async def verify_otp(
    body: OtpVerifyIn, use_case: Annotated[VerifySignInCode, Inject(VerifySignInCode)]
) -> TokensOut | MfaRequiredOut:
    result = await use_case.execute(email=body.email, phone=body.phone, code=body.code)
    return _signed_in(result)


@router.post(
    "/mfa/verify",
    summary="Finish an MFA sign-in",
    responses=_SIGN_IN,
    openapi_extra=EITHER_PLANE,
)
async def verify_mfa(
    body: MfaVerifyIn, use_case: Annotated[VerifyMfaLogin, Inject(VerifyMfaLogin)]
) -> TokensOut:
    return TokensOut(**(await use_case.execute(body.mfa_token, body.code)).model_dump())


@router.post(
    "/refresh",
    summary="Rotate the refresh token",
    description=(
        "Gives a new pair; the presented refresh token is spent. Presenting a spent token "
        "again ends the whole session (401)."
    ),
    responses=_SIGN_IN,
    openapi_extra=EITHER_PLANE,
)
async def refresh(
    body: RefreshIn, use_case: Annotated[RefreshTokens, Inject(RefreshTokens)]
) -> TokensOut:
    return TokensOut(**(await use_case.execute(body.refresh_token)).model_dump())


@router.post(
    "/logout",
    status_code=204,
    summary="Sign out",
    description="This access token and the session's refresh tokens stop working at once.",
    responses=_AUTHED,
    openapi_extra=EITHER_PLANE,
)
async def logout(
    principal: CurrentUser,
    use_case: Annotated[Logout, Inject(Logout)],
    body: Annotated[LogoutIn | None, Body()] = None,
) -> Response:
    await use_case.execute(principal)
    return Response(status_code=204)


@router.get(
    "/me",
    summary="The current user, with effective permissions",
    responses=_AUTHED,
    openapi_extra=EITHER_PLANE,
)
async def me(
    principal: CurrentUser,
    get_me: Annotated[GetMe, Inject(GetMe)],
    describe: Annotated[DescribeProfiles, Inject(DescribeProfiles)],
    get_tenant: Annotated[GetCurrentTenant, Inject(GetCurrentTenant)],
) -> MeOut:
    current = await get_me.execute(principal)
    [(view, avatar_url)] = await describe.execute([current.user])
    tenant = TenantRef.of(await get_tenant.execute()) if principal.tenant_id else None
    return MeOut(
        **UserOut.of(view, avatar_url).model_dump(),
        permissions=current.permissions,
        mfa_recovery_codes_left=(
            len(current.user.mfa_recovery_codes) if current.user.mfa_enabled else 0
        ),
        tenant=tenant,
        impersonated_by=principal.actor_id,
        departments=None if principal.departments is None else sorted(principal.departments),
    )
