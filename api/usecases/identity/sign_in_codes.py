"""Sign-in by one-time code: ask for a code by email or phone, then trade it for tokens.

How the code travels (it is never in a response, a log, a job's arguments or the database
in clear):

- `RequestSignInCode` (the HTTP request) only checks the input and the rate limits and
  queues one job whose argument is the email or phone *encrypted* with the `SecretBox`:
  the same work, the same answer (202) and about the same time whether or not an account
  matches, and no code exists yet;
- `SendSignInCode` (that job, in the worker) finds the account; only for an active user
  (by email; by phone when the tenant has an active WhatsApp channel) it draws six digits
  from `secrets`, stores their HMAC (replacing any previous code of the user) and sends
  them: rendered and handed to the mail port directly (not through the outbox, which
  keeps messages' context in the database), or as the WhatsApp AUTHENTICATION template
  `OTP_WHATSAPP_TEMPLATE` (body parameter and copy-code button) through the channel's
  gateway. A send that fails for now is retried by the job with a fresh code;
- `VerifySignInCode` checks the code (attempts are spent atomically before comparing).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from pydantic import BaseModel

from api.common.locales import e164
from api.common.request_context import current_client
from api.domain.clock import Clock
from api.domain.email.messages import (
    Branding,
    ContextValue,
    EmailMessage,
    EmailRenderer,
    EmailSender,
    EmailTemplate,
)
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import AuthPolicy, RateLimiter, SecretBox
from api.domain.identity.sign_in_codes import CodeCheck, SignInCodePolicy, SignInCodes
from api.domain.identity.users import User, UserRepository
from api.domain.jobs import JobQueue
from api.domain.messaging.channels import ChannelRepository, ChannelStatus, ChannelType
from api.domain.messaging.content import OutboundMessage, Recipient, TemplateContent
from api.domain.messaging.gateway import ChannelGateways
from api.domain.tenancy import current_tenant
from api.domain.tenants.tenant import TenantRepository
from api.usecases.identity.login import LoginResult, SignInSteps
from api.usecases.identity.rules import lockout_key, valid_email
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.rate_limits import enforce_rate

SEND_SIGN_IN_CODE_JOB = "parley.auth.send_sign_in_code"
BY_EMAIL = "email"
BY_PHONE = "phone"
BAD_CODE = "Invalid or expired code."


class Identifier(BaseModel):
    """Who asks: `by` (`email` or `phone`) and the normalised value."""

    by: str
    value: str


def identifier_of(email: str | None, phone: str | None) -> Identifier:
    """Exactly one of an email address or an international phone number (422 otherwise)."""
    if (email is None) == (phone is None):
        raise InvalidInput(
            "Give an email or a phone number.",
            [FieldProblem(("email",), "give exactly one of email or phone")],
        )
    if email is not None:
        return Identifier(by=BY_EMAIL, value=valid_email(email))
    number = e164(phone or "")
    if number is None:
        raise InvalidInput(
            "Invalid phone number.",
            [FieldProblem(("phone",), "not a valid international number (E.164, +...)")],
        )
    return Identifier(by=BY_PHONE, value=number)


async def account_of(users: UserRepository, identifier: Identifier) -> User | None:
    """The tenant's user with this email, or the one user with this phone (a number two
    users share signs in nobody)."""
    if identifier.by == BY_EMAIL:
        return await users.get_by_email(identifier.value)
    found = await users.find_by_phone(identifier.value, limit=2)
    return found[0] if len(found) == 1 else None


class RequestSignInCode:
    """Ask for a sign-in code (`POST /auth/otp/request`), in the tenant in context.

    Rules: exactly one of `email` and `phone` (422); limited per IP
    (`SENSITIVE_RATE_PER_IP` a minute) and per identifier in the tenant
    (`OTP_REQUESTS_PER_IDENTIFIER` per `OTP_WINDOW_SECONDS`), for unknown ones too (429);
    otherwise one `SEND_SIGN_IN_CODE_JOB` is queued with the identifier encrypted, and the
    answer is the same whatever the identifier (the job decides whether anything goes
    out). A job queue outage is 503 for everyone alike.
    """

    def __init__(
        self,
        jobs: JobQueue,
        box: SecretBox,
        limiter: RateLimiter,
        auth: AuthPolicy,
        policy: SignInCodePolicy,
    ) -> None:
        self._jobs = jobs
        self._box = box
        self._limiter = limiter
        self._auth = auth
        self._policy = policy

    async def execute(self, *, email: str | None, phone: str | None) -> None:
        tenant_id = current_tenant()
        identifier = identifier_of(email, phone)
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"otp:ip:{ip}", self._auth.sensitive_rate_per_ip)
        await enforce_rate(
            self._limiter,
            f"otp:request:{tenant_id}:{identifier.value}",
            self._policy.requests_per_identifier,
            window=self._policy.window_seconds,
        )
        target = self._box.encrypt(identifier.value)
        await self._jobs.enqueue(SEND_SIGN_IN_CODE_JOB, by=identifier.by, target=target)


class SendSignInCode:
    """The job behind `RequestSignInCode`, in its tenant: make and send the code.

    Rules: nothing is sent, and nothing stored, unless the identifier names exactly one
    active user of the tenant, and, by phone, the tenant has an active WhatsApp channel
    (the first one, newest first). The code is six digits from `secrets`; its HMAC replaces
    the user's previous code, valid `OTP_TTL_SECONDS`. Audited as
    `auth.sign_in_code_requested` with the identifier and whether a code went out (never
    the code). Returns `sent`, or `skipped` when nothing went out.
    """

    def __init__(
        self,
        users: UserRepository,
        codes: SignInCodes,
        tenants: TenantRepository,
        channels: ChannelRepository,
        gateways: ChannelGateways,
        renderer: EmailRenderer,
        sender: EmailSender,
        box: SecretBox,
        clock: Clock,
        auditor: Auditor,
        policy: SignInCodePolicy,
    ) -> None:
        self._users = users
        self._codes = codes
        self._tenants = tenants
        self._channels = channels
        self._gateways = gateways
        self._renderer = renderer
        self._sender = sender
        self._box = box
        self._clock = clock
        self._auditor = auditor
        self._policy = policy

    async def execute(self, by: str, target: str) -> str:
        identifier = Identifier(by=by, value=self._box.decrypt(target))
        user = await account_of(self._users, identifier)
        sent = user is not None and await self._send(identifier, user)
        await self._auditor.record(
            "auth.sign_in_code_requested", "user", user.id if user and sent else None,
            actor_id=None, changes={by: identifier.value, "sent": sent},
        )  # fmt: skip
        return "sent" if sent else "skipped"

    async def _send(self, identifier: Identifier, user: User) -> bool:
        if user.id is None or not user.is_active:
            return False
        channel = None
        if identifier.by == BY_PHONE:
            page = await self._channels.search(
                type=ChannelType.WHATSAPP, status=ChannelStatus.ACTIVE, skip=0, limit=1
            )
            if not page.items:
                return False
            channel = page.items[0]
        code = f"{secrets.randbelow(10**6):06d}"
        now = self._clock.now()
        await self._codes.replace(
            tenant_id=current_tenant(),
            user_id=user.id,
            code=code,
            now=now,
            expires_at=now + timedelta(seconds=self._policy.ttl_seconds),
        )
        if channel is None:
            await self._email(user, code)
            return True
        await self._gateways.for_channel(channel).send(
            OutboundMessage(
                recipient=Recipient(phone=identifier.value),
                content=TemplateContent(
                    name=self._policy.whatsapp_template,
                    language=self._policy.whatsapp_language,
                    components=authentication_components(code),
                ),
            )
        )
        return True

    async def _email(self, user: User, code: str) -> None:
        tenant = await self._tenants.get(current_tenant())
        context: dict[str, ContextValue] = {
            "user_name": user.full_name,
            "code": code,
            "expires_minutes": max(1, self._policy.ttl_seconds // 60),
        }
        branding = Branding(tenant_name=tenant.name) if tenant else Branding.platform()
        rendered = self._renderer.render(EmailTemplate.SIGN_IN_CODE, context, branding)
        await self._sender.send(
            EmailMessage(
                to=[user.email], subject=rendered.subject, html=rendered.html, text=rendered.text
            )
        )


def authentication_components(code: str) -> list[dict[str, object]]:
    """A WhatsApp AUTHENTICATION template's parameters: the code in the body and in the
    copy-code (URL) button, as Meta requires."""
    text = [{"type": "text", "text": code}]
    return [
        {"type": "body", "parameters": text},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": text},
    ]


class VerifySignInCode:
    """Trade a sign-in code for tokens (`POST /auth/otp/verify`), like a password sign-in.

    Rules: exactly one of `email` and `phone` (422); limited per IP (`LOGIN_RATE_PER_IP`
    a minute) and per identifier in the tenant (`OTP_VERIFY_PER_IDENTIFIER` per
    `OTP_WINDOW_SECONDS`; 429); an account locked out by failed sign-ins stays locked
    (429), and a wrong code counts towards that lockout like a wrong password. Unknown or
    inactive account, no code, wrong, expired, used, replaced or exhausted code: the same
    401. Each code may be tried `OTP_MAX_ATTEMPTS` times in all (then even the right one
    is refused) and is accepted once. Success is a password sign-in's: the lockout is
    cleared, and with MFA on only the challenge token is given (finish with a TOTP code
    at `/auth/mfa/verify`); audited `auth.login_succeeded` with `method: code`.
    """

    def __init__(
        self,
        users: UserRepository,
        codes: SignInCodes,
        steps: SignInSteps,
        limiter: RateLimiter,
        clock: Clock,
        auth: AuthPolicy,
        policy: SignInCodePolicy,
    ) -> None:
        self._users = users
        self._codes = codes
        self._steps = steps
        self._limiter = limiter
        self._clock = clock
        self._auth = auth
        self._policy = policy

    async def execute(self, *, email: str | None, phone: str | None, code: str) -> LoginResult:
        tenant_id = current_tenant()
        identifier = identifier_of(email, phone)
        ip, _ = current_client()
        await enforce_rate(self._limiter, f"otp:verify:ip:{ip}", self._auth.login_rate_per_ip)
        await enforce_rate(
            self._limiter,
            f"otp:verify:{tenant_id}:{identifier.value}",
            self._policy.verify_per_identifier,
            window=self._policy.window_seconds,
        )
        user = await account_of(self._users, identifier)
        failures_key = lockout_key(tenant_id, user.email if user else identifier.value)
        await self._steps.locked_out(failures_key)
        changes: dict[str, object] = {identifier.by: identifier.value, "method": "code"}
        if user is None or user.id is None or not user.is_active:
            await self._steps.refuse(failures_key, user, changes, BAD_CODE)
        outcome = await self._codes.check(
            tenant_id=tenant_id,
            user_id=user.id,
            code=code.strip(),
            now=self._clock.now(),
            max_attempts=self._policy.max_attempts,
        )
        if outcome is not CodeCheck.ACCEPTED:
            await self._steps.refuse(failures_key, user, changes, BAD_CODE)
        return await self._steps.admit(user, failures_key, {"method": "code"})
