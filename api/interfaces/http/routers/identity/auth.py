"""Sign-in, token refresh, sign-out and the current user (`/api/v1/auth`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.interfaces.http.auth import CurrentUser
from api.interfaces.http.deps import Inject
from api.interfaces.http.openapi import EITHER_PLANE
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.auth import (
    LoginIn,
    LogoutIn,
    MeOut,
    MfaRequiredOut,
    MfaVerifyIn,
    RefreshIn,
    TenantRef,
    TokensOut,
    UserOut,
)
from api.usecases.files.describe_profiles import DescribeProfiles
from api.usecases.identity.get_me import GetMe
from api.usecases.identity.login import Login
from api.usecases.identity.logout import Logout
from api.usecases.identity.refresh_tokens import RefreshTokens
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
    result = await use_case.execute(body.email, body.password)
    if result.tokens is None:
        return MfaRequiredOut(mfa_token=result.mfa_token or "")
    return TokensOut(**result.tokens.model_dump())


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
        tenant=tenant,
        impersonated_by=principal.actor_id,
        departments=None if principal.departments is None else sorted(principal.departments),
    )
