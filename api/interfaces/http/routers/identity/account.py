"""Account flows of `/api/v1/auth`: sign-up, passwords, email verification, MFA settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from api.interfaces.http.auth import CurrentUser
from api.interfaces.http.deps import Inject
from api.interfaces.http.openapi import EITHER_PLANE
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.identity.auth import (
    AcceptedOut,
    ChangePasswordIn,
    DeleteAccountIn,
    EmailIn,
    MfaCodeIn,
    MfaSetupOut,
    PasswordIn,
    RecoveryCodesOut,
    RegisterIn,
    ResetPasswordIn,
    SessionListOut,
    SessionOut,
    SessionsEndedOut,
    TokenIn,
    UserOut,
)
from api.usecases.files.remove_avatar import RemoveDeletedUsersAvatar
from api.usecases.identity.change_password import ChangePassword
from api.usecases.identity.delete_own_account import DeleteOwnAccount
from api.usecases.identity.disable_mfa import DisableMfa
from api.usecases.identity.enable_mfa import EnableMfa
from api.usecases.identity.own_sessions import EndOwnSessions, ListOwnSessions
from api.usecases.identity.register import Register
from api.usecases.identity.renew_recovery_codes import RenewRecoveryCodes
from api.usecases.identity.request_password_reset import RequestPasswordReset
from api.usecases.identity.resend_verification import ResendVerification
from api.usecases.identity.reset_password import ResetPassword
from api.usecases.identity.start_mfa_setup import StartMfaSetup
from api.usecases.identity.verify_email import VerifyEmail
from api.usecases.kernel.describe_users import DescribeUsers

router = APIRouter(prefix="/auth", tags=["auth"])

_NO_STORE = {"Cache-Control": "no-store"}
_TENANT_ONLY = " Runs in the tenant named by the request (400 `tenant_required` without one)."


def _no_content() -> Response:
    return Response(status_code=204, headers=_NO_STORE)


@router.post(
    "/register",
    status_code=201,
    summary="Sign up as a member",
    description=(
        "Open only when the tenant's sign-up mode is `open` (403 otherwise). The new member "
        "gets a welcome email, or, when the tenant requires verified addresses, a "
        "verification link: until it is followed the account is inactive and signing in "
        "answers the same 401 as any failed sign-in." + _TENANT_ONLY
    ),
    responses=problem_responses(400, 403, 409, 422, 429),
)
async def register(
    body: RegisterIn,
    use_case: Annotated[Register, Inject(Register)],
    describe: Annotated[DescribeUsers, Inject(DescribeUsers)],
) -> UserOut:
    user = await use_case.execute(
        email=body.email, password=body.password, full_name=body.full_name
    )
    [view] = await describe.execute([user])
    return UserOut.of(view)


@router.post(
    "/forgot-password",
    status_code=202,
    summary="Email a password-reset link",
    description=(
        "Always 202 with the same body, whether or not the address has an account; an "
        "active account gets a single-use, expiring link by email (through the job "
        "queue). Limited per IP and per address (429)." + _TENANT_ONLY
    ),
    responses=problem_responses(400, 422, 429),
)
async def forgot_password(
    body: EmailIn, use_case: Annotated[RequestPasswordReset, Inject(RequestPasswordReset)]
) -> AcceptedOut:
    await use_case.execute(body.email)
    return AcceptedOut(detail="If an account uses this address, a reset link is on its way.")


@router.post(
    "/reset-password",
    status_code=204,
    summary="Set a new password with a reset or invitation link",
    description=(
        "Takes the token of a password-reset or invitation email (an invited user sets a "
        "first password this way). A bad, used or expired token is 400 `invalid_token`. "
        "Every session of the user ends." + _TENANT_ONLY
    ),
    responses=problem_responses(400, 422, 429),
)
async def reset_password(
    body: ResetPasswordIn, use_case: Annotated[ResetPassword, Inject(ResetPassword)]
) -> Response:
    await use_case.execute(body.token, body.new_password)
    return _no_content()


@router.post(
    "/verify-email",
    status_code=204,
    summary="Confirm an email address",
    description=(
        "Takes the token of a verification email; activates an account waiting for it. "
        "A bad, used or expired token is 400 `invalid_token`." + _TENANT_ONLY
    ),
    responses=problem_responses(400, 422, 429),
)
async def verify_email(
    body: TokenIn, use_case: Annotated[VerifyEmail, Inject(VerifyEmail)]
) -> Response:
    await use_case.execute(body.token)
    return _no_content()


@router.post(
    "/resend-verification",
    status_code=202,
    summary="Email a new verification link",
    description=(
        "Always 202 with the same body; an unverified account gets a new link (older ones "
        "stop working). Limited per IP and per address (429)." + _TENANT_ONLY
    ),
    responses=problem_responses(400, 422, 429),
)
async def resend_verification(
    body: EmailIn, use_case: Annotated[ResendVerification, Inject(ResendVerification)]
) -> AcceptedOut:
    await use_case.execute(body.email)
    return AcceptedOut(
        detail="If an unverified account uses this address, a new link is on its way."
    )


@router.post(
    "/change-password",
    status_code=204,
    summary="Change your password",
    description=(
        "Needs the current password (401 when wrong). Every session of the account ends, "
        "this one included: sign in again with the new password. Works for platform "
        "admins too."
    ),
    responses=problem_responses(401, 403, 422, 429),
    openapi_extra=EITHER_PLANE,
)
async def change_password(
    principal: CurrentUser,
    body: ChangePasswordIn,
    use_case: Annotated[ChangePassword, Inject(ChangePassword)],
) -> Response:
    await use_case.execute(principal, body.current_password, body.new_password)
    return _no_content()


@router.post(
    "/mfa/setup",
    summary="Start setting up two-factor sign-in (TOTP)",
    description=(
        "Answers a new TOTP seed, its `otpauth://` URI and ten recovery codes, this once; "
        "MFA is not on until `/auth/mfa/enable` gets a code from the seed. Starting again "
        "replaces the pending seed and codes. 409 when MFA is already on."
    ),
    responses=problem_responses(401, 403, 409),
    openapi_extra=EITHER_PLANE,
)
async def mfa_setup(
    principal: CurrentUser,
    use_case: Annotated[StartMfaSetup, Inject(StartMfaSetup)],
    response: Response,
) -> MfaSetupOut:
    setup = await use_case.execute(principal)
    response.headers.update(_NO_STORE)
    return MfaSetupOut(**setup.model_dump())


@router.post(
    "/mfa/enable",
    status_code=204,
    summary="Turn two-factor sign-in on",
    description="With a code from the seed of `/auth/mfa/setup`; a wrong code is 401 "
    "`invalid_mfa_code`.",
    responses=problem_responses(401, 403, 409, 422, 429),
    openapi_extra=EITHER_PLANE,
)
async def mfa_enable(
    principal: CurrentUser,
    body: MfaCodeIn,
    use_case: Annotated[EnableMfa, Inject(EnableMfa)],
) -> Response:
    await use_case.execute(principal, body.code)
    return _no_content()


@router.post(
    "/mfa/disable",
    status_code=204,
    summary="Turn two-factor sign-in off",
    description=(
        "With a current code or a recovery code; a wrong code is 401 `invalid_mfa_code`. "
        "The seed and the unused recovery codes are erased."
    ),
    responses=problem_responses(401, 403, 409, 422, 429),
    openapi_extra=EITHER_PLANE,
)
async def mfa_disable(
    principal: CurrentUser,
    body: MfaCodeIn,
    use_case: Annotated[DisableMfa, Inject(DisableMfa)],
) -> Response:
    await use_case.execute(principal, body.code)
    return _no_content()


@router.post(
    "/mfa/recovery-codes",
    summary="Make new MFA recovery codes",
    description=(
        "With a current code or a recovery code (spent); answers ten new single-use codes, "
        "this once, and every unused code of the previous set stops working. 409 when MFA "
        "is off; a wrong code is 401 `invalid_mfa_code`."
    ),
    responses=problem_responses(401, 403, 409, 422, 429),
    openapi_extra=EITHER_PLANE,
)
async def mfa_recovery_codes(
    principal: CurrentUser,
    body: MfaCodeIn,
    use_case: Annotated[RenewRecoveryCodes, Inject(RenewRecoveryCodes)],
    response: Response,
) -> RecoveryCodesOut:
    codes = await use_case.execute(principal, body.code)
    response.headers.update(_NO_STORE)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/delete-account",
    status_code=204,
    summary="Delete your own account",
    description=(
        "A tenant user's right to erasure: with the current `password` (and, with MFA on, "
        "a current `code` or a recovery code), the account is deleted, every session ends "
        "at once and the avatar is removed from the storage; what the user did (messages, "
        "notes, audit entries) stays, naming their id. A wrong password is 401, a wrong code "
        "401 `invalid_mfa_code`; the tenant's last active owner is 409 (make someone else "
        "owner first); impersonation, API keys and platform admins are 403. Attempts share "
        "the password change's budget per user (429)."
    ),
    responses=problem_responses(401, 403, 409, 422, 429),
)
async def delete_account(
    principal: CurrentUser,
    body: DeleteAccountIn,
    use_case: Annotated[DeleteOwnAccount, Inject(DeleteOwnAccount)],
    avatars: Annotated[RemoveDeletedUsersAvatar, Inject(RemoveDeletedUsersAvatar)],
) -> Response:
    await avatars.execute(await use_case.execute(principal, body.password, body.code))
    return _no_content()


@router.get(
    "/sessions",
    summary="Your live sessions",
    description=(
        "Every sign-in of yours not yet ended or expired, newest first: where it started "
        "(IP, user agent), when, its last refresh, `current` for the one asking, and "
        "`impersonated_by` for a platform admin's impersonation."
    ),
    responses=problem_responses(401, 403),
    openapi_extra=EITHER_PLANE,
)
async def list_sessions(
    principal: CurrentUser,
    use_case: Annotated[ListOwnSessions, Inject(ListOwnSessions)],
) -> SessionListOut:
    live = await use_case.execute(principal)
    return SessionListOut(items=[SessionOut.of(s, principal.session_id) for s in live])


@router.post(
    "/sessions/{session_id}/end",
    status_code=204,
    summary="End one of your sessions",
    description=(
        "With your password again (401 otherwise): the session's refresh token stops and "
        "its access tokens are refused at once. Not one of your live sessions: 404. Not "
        "while impersonating (403)."
    ),
    responses=problem_responses(401, 403, 404, 422, 429),
    openapi_extra=EITHER_PLANE,
)
async def end_session(
    session_id: str,
    principal: CurrentUser,
    body: PasswordIn,
    use_case: Annotated[EndOwnSessions, Inject(EndOwnSessions)],
) -> Response:
    await use_case.execute(principal, body.password, session_id)
    return _no_content()


@router.post(
    "/sessions/end-others",
    summary="End every session but this one",
    description=(
        "With your password again (401 otherwise): every other sign-in of yours ends at "
        "once (a lost phone, a shared computer). Not while impersonating (403)."
    ),
    responses=problem_responses(401, 403, 422, 429),
    openapi_extra=EITHER_PLANE,
)
async def end_other_sessions(
    principal: CurrentUser,
    body: PasswordIn,
    use_case: Annotated[EndOwnSessions, Inject(EndOwnSessions)],
) -> SessionsEndedOut:
    return SessionsEndedOut(ended=await use_case.execute(principal, body.password, None))
