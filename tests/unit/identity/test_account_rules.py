"""Account-flow rules (passwords, reset links, MFA codes) with hand-written fakes of ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.common.clock import utcnow
from api.domain.email.messages import EmailTemplate
from api.domain.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidMfaCode,
    InvalidToken,
    RateLimited,
    Unauthorized,
)
from api.domain.identity.auth import (
    AuthPolicy,
    Principal,
)
from api.domain.identity.users import User
from api.domain.tenancy import TenantId, tenant_context
from api.infrastructure.security.recovery_codes import HmacRecoveryCodes
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.change_password import ChangePassword
from api.usecases.identity.disable_mfa import DisableMfa
from api.usecases.identity.enable_mfa import EnableMfa
from api.usecases.identity.mfa_codes import MfaCodes, new_recovery_set
from api.usecases.identity.reauthenticate import Reauthenticate
from api.usecases.identity.renew_recovery_codes import RenewRecoveryCodes
from api.usecases.identity.request_password_reset import RequestPasswordReset
from api.usecases.identity.reset_password import ResetPassword
from api.usecases.identity.rules import pending_verification, valid_email
from api.usecases.identity.security_notices import SecurityNotices
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import Mailer, QueueEmail
from api.usecases.kernel.passwords import PasswordRules
from tests.fakes.audit import FakeAuditLog
from tests.fakes.email import FakeOutbox
from tests.fakes.identity import (
    FakeBox,
    FakeBreaches,
    FakeHasher,
    FakeLimiter,
    FakeOneTime,
    FakeRevocations,
    FakeSessions,
    FakeTotp,
    FakeUsers,
)
from tests.fakes.jobs import FakeJobs

TENANT, OTHER = "a" * 24, "b" * 24
POLICY = AuthPolicy(sensitive_rate_per_ip=3)
GOOD = "correct-horse-1"
BREACHED = "password1234"  # in the fake breach corpus


def user(**fields: Any) -> User:
    now = utcnow()
    base: dict[str, Any] = {
        "id": "u1", "tenant_id": TENANT, "email": "mia@acme.example.com", "full_name": "Mia",
        "password_hash": f"h:{GOOD}", "created_at": now, "updated_at": now,
    }  # fmt: skip
    return User(**{**base, **fields})


def notices(world: World) -> list[tuple[str, object, object]]:
    """The security notices queued: (to, what changed, detail)."""
    return [
        (e.to, e.context["change"], e.context["detail"])
        for e in world.outbox.emails.values()
        if e.template is EmailTemplate.SECURITY_NOTICE
    ]


def principal(user_id: str = "u1", actor_id: str | None = None) -> Principal:
    now = datetime.now(UTC)
    return Principal(
        user_id=user_id, tenant_id=TENANT, session_id="s1", token_id="t1",
        permissions=frozenset(), issued_at=now, expires_at=now, actor_id=actor_id,
    )  # fmt: skip


class World:
    """The account use cases' ports over fakes; `sessions` are the session ids of `u1`."""

    def __init__(self, *users: User, sessions: tuple[str, ...] = ()) -> None:
        self.users = FakeUsers(*users)
        self.accounts = Accounts(self.users, self.users)
        self.limiter, self.one_time, self.audit = FakeLimiter(), FakeOneTime(), FakeAuditLog()
        self.sessions, self.revocations = FakeSessions(), FakeRevocations()
        self.sessions.active[TENANT, "u1"] = list(sessions)
        self.security = AccountSecurity(self.sessions, self.revocations, self.limiter)
        self.outbox, self.jobs = FakeOutbox(), FakeJobs()
        self.mailer = Mailer(QueueEmail(self.outbox, self.jobs))
        self.auditor = Auditor(self.audit)
        self.breaches = FakeBreaches(BREACHED)
        self.passwords = PasswordRules(self.breaches, POLICY)
        self.recovery = HmacRecoveryCodes("unit-test-secret")
        self.notices = SecurityNotices(self.mailer, POLICY)
        self.codes = MfaCodes(
            FakeTotp(), FakeBox(), self.recovery, self.accounts, self.limiter, self.auditor,
            POLICY, self.notices,
        )  # fmt: skip

    def reset(self) -> ResetPassword:
        return ResetPassword(
            self.accounts, FakeHasher(), self.one_time, self.security, self.limiter,
            self.auditor, self.passwords, POLICY, self.notices,
        )  # fmt: skip


async def test_password_problems_are_reported_on_the_named_field() -> None:
    rules = PasswordRules(breaches := FakeBreaches(BREACHED), POLICY)
    with pytest.raises(InvalidInput) as caught:
        await rules.check("short", email="a@b.co", field="new_password")
    assert [p.loc for p in caught.value.problems] == [("new_password",)]
    assert breaches.asked == []  # no lookup for a password the local rules refuse
    with pytest.raises(InvalidInput) as caught:
        await rules.check(BREACHED, email="a@b.co")
    assert [(p.loc, "breach" in p.msg) for p in caught.value.problems] == [(("password",), True)]
    assert BREACHED not in str(caught.value) + str(caught.value.problems)
    await rules.check("long-enough-1", email="a@b.co", field="new_password")
    rules.check_local(BREACHED, email="a@b.co")  # no lookup in the local rules
    assert breaches.asked == [BREACHED, "long-enough-1"]


def test_addresses_and_the_pending_state() -> None:
    assert valid_email("  Mia@Example.COM ") == "mia@example.com"
    with pytest.raises(InvalidInput):
        valid_email("not an address")
    assert pending_verification(user(is_active=False, email_verified=False))
    assert not pending_verification(user(is_active=False, email_verified=True))  # deactivated
    assert not pending_verification(user(is_active=True, email_verified=False))
    changed = user(is_active=False, email_verified=False)  # e.g. deactivated by an admin
    changed.updated_at = changed.created_at + timedelta(seconds=1)
    assert not pending_verification(changed)


async def test_reset_requests_send_nothing_for_unknown_or_inactive_accounts() -> None:
    world = World(user(), user(id="u2", email="off@acme.example.com", is_active=False))
    request = RequestPasswordReset(
        world.accounts, world.one_time, world.mailer, world.limiter, world.auditor, AuthPolicy()
    )
    with tenant_context(TenantId(TENANT)):
        for email in ("ghost@acme.example.com", "off@acme.example.com"):
            await request.execute(email)
        assert world.one_time.issued == [] and world.outbox.emails == {}
        await request.execute("MIA@acme.example.com")
    assert world.one_time.issued == [("password_reset", "u1", 1800)]
    [mail] = world.outbox.emails.values()
    assert mail.context["reset_url"] == "http://127.0.0.1:8000/reset-password?token=tok0"
    world.jobs.down = True  # an outage changes nothing the caller sees
    with tenant_context(TenantId(TENANT)):
        await request.execute("mia@acme.example.com")
    assert list(world.one_time.live) == ["tok1"]  # the newer link replaced the older one


async def test_reset_checks_the_password_before_spending_and_ends_sessions_per_session() -> None:
    world = World(user(), sessions=("s1", "s2"))
    token = await world.one_time.issue(
        purpose="password_reset", user_id="u1", tenant_id=TENANT, ttl_seconds=60
    )
    with tenant_context(TenantId(TENANT)):
        for refused in ("short", BREACHED):
            with pytest.raises(InvalidInput):
                await world.reset().execute(token, refused)
        assert world.one_time.consumed == []  # the link still works
        world.limiter.counts.clear()  # three attempts a minute in this policy
        await world.limiter.hit("login:failures:" + TENANT + ":mia@acme.example.com", limit=9,
                                window_seconds=60)  # fmt: skip
        await world.reset().execute(token, "a-new-password-1")
        with pytest.raises(InvalidToken):
            await world.reset().execute(token, "a-new-password-2")
    stored = world.users.rows["u1"]
    assert stored.password_hash == "h:a-new-password-1" and stored.email_verified
    assert world.revocations.sessions == ["s1", "s2"]
    assert world.limiter.counts.get(f"login:failures:{TENANT}:mia@acme.example.com") is None
    assert "auth.password_reset" in world.audit.actions()


async def test_a_link_of_another_tenant_is_invalid() -> None:
    world = World(user())
    token = await world.one_time.issue(
        purpose="invitation", user_id="u1", tenant_id=OTHER, ttl_seconds=60
    )
    with tenant_context(TenantId(TENANT)), pytest.raises(InvalidToken):
        await world.reset().execute(token, "a-new-password-1")
    assert world.users.rows["u1"].password_hash == f"h:{GOOD}"


async def test_change_password_rules() -> None:
    world = World(user(), sessions=("s1", "s9"))
    change = ChangePassword(
        world.accounts, FakeHasher(), world.one_time, world.security, world.auditor,
        world.passwords,
        Reauthenticate(world.accounts, FakeHasher(), world.limiter, world.auditor, POLICY),
        world.notices,
    )  # fmt: skip
    with tenant_context(TenantId(TENANT)):
        with pytest.raises(Forbidden):
            await change.execute(principal(actor_id="admin"), GOOD, "a-new-password-1")
        with pytest.raises(Unauthorized):  # no breach lookup before the password is right
            await change.execute(principal(), "not-the-password", BREACHED)
        assert world.breaches.asked == []
        with pytest.raises(InvalidInput):
            await change.execute(principal(), GOOD, BREACHED)
        world.limiter.counts.clear()
        with pytest.raises(Unauthorized):
            await change.execute(principal(), "not-the-password", "a-new-password-1")
        with pytest.raises(InvalidInput):
            await change.execute(principal(), GOOD, GOOD)
        with pytest.raises(Unauthorized):
            await change.execute(principal(), "still-not-it", "a-new-password-1")
        with pytest.raises(RateLimited):  # three attempts a minute in this policy
            await change.execute(principal(), GOOD, "a-new-password-1")
        world.limiter.counts.clear()
        await change.execute(principal(), GOOD, "a-new-password-1")
    assert world.revocations.sessions == ["s1", "s9"]  # this session too
    assert world.users.rows["u1"].password_hash == "h:a-new-password-1"
    assert notices(world) == [("mia@acme.example.com", "Your password was changed.", "")]


async def test_mfa_codes_are_checked_once_and_replays_refused() -> None:
    world = World(user(mfa_secret=FakeBox().encrypt("123456SEED")))
    member = world.users.rows["u1"]
    with pytest.raises(InvalidMfaCode):
        await world.codes.check(member, "000000")
    await world.codes.check(member, "123 456")
    with pytest.raises(InvalidMfaCode):
        await world.codes.check(member, "123456")
    with pytest.raises(RateLimited):
        await world.codes.check(member, "123456")
    assert world.audit.actions() == ["auth.mfa_failed"]
    tampered = World(user(mfa_secret="garbage"))
    with pytest.raises(InvalidMfaCode):
        await tampered.codes.check(tampered.users.rows["u1"], "garbag")


async def test_enable_needs_a_pending_seed_and_disable_erases_it() -> None:
    world = World(user())
    enable = EnableMfa(world.accounts, world.codes, world.auditor, world.notices)
    disable = DisableMfa(world.accounts, world.codes, world.auditor, world.notices)
    with tenant_context(TenantId(TENANT)):
        with pytest.raises(Conflict):
            await enable.execute(principal(), "123456")
        with pytest.raises(Conflict):
            await disable.execute(principal(), "123456")
        await world.users.update("u1", {"mfa_secret": FakeBox().encrypt("123456SEED")})
        with pytest.raises(Forbidden):
            await enable.execute(principal(actor_id="admin"), "123456")
        await enable.execute(principal(), "123456")
        assert world.users.rows["u1"].mfa_enabled
        world.limiter.counts.clear()  # forget the replay guard of the code above
        await disable.execute(principal(), "123456")
    stored = world.users.rows["u1"]
    assert not stored.mfa_enabled and stored.mfa_secret is None
    assert world.audit.actions()[-2:] == ["user.mfa_enabled", "user.mfa_disabled"]


async def test_a_recovery_code_stands_in_for_the_authenticator_once() -> None:
    world = World(user(mfa_secret=FakeBox().encrypt("123456SEED"), mfa_enabled=True))
    shown, stored = new_recovery_set(world.recovery, "u1")
    await world.users.update("u1", {"mfa_recovery_codes": stored})
    member = world.users.rows["u1"]
    with pytest.raises(InvalidMfaCode):  # only where the caller allows recovery codes
        await world.codes.check(member, shown[0])
    await world.codes.check(member, f" {shown[0].upper()} ", recovery=True)
    assert len(world.users.rows["u1"].mfa_recovery_codes) == 9
    world.limiter.counts.clear()  # three guesses a minute in this policy
    with pytest.raises(InvalidMfaCode):  # spent
        await world.codes.check(world.users.rows["u1"], shown[0], recovery=True)
    other = World(user(mfa_secret=FakeBox().encrypt("123456SEED"), mfa_enabled=True))
    _, theirs = new_recovery_set(other.recovery, "u2")  # another user's set
    await world.users.update("u1", {"mfa_recovery_codes": theirs})
    with pytest.raises(InvalidMfaCode):
        await world.codes.check(world.users.rows["u1"], shown[1], recovery=True)
    assert world.audit.actions() == [
        "auth.mfa_failed", "auth.mfa_recovery_code_used", "auth.mfa_failed", "auth.mfa_failed",
    ]  # fmt: skip
    world.limiter.counts.clear()
    assert notices(world) == [
        ("mia@acme.example.com", "One of your two-factor recovery codes was used.",
         "9 of them are left."),
    ]  # fmt: skip
    # A TOTP code still works where recovery codes are allowed.
    await world.codes.check(world.users.rows["u1"], "123456", recovery=True)


async def test_renewed_recovery_codes_replace_the_old_ones_and_disable_erases_them() -> None:
    world = World(user(mfa_secret=FakeBox().encrypt("123456SEED")))
    renew = RenewRecoveryCodes(
        world.accounts, world.codes, world.recovery, world.auditor, world.notices
    )
    disable = DisableMfa(world.accounts, world.codes, world.auditor, world.notices)
    with tenant_context(TenantId(TENANT)):
        with pytest.raises(Conflict):  # MFA is off
            await renew.execute(principal(), "123456")
        first, stored = new_recovery_set(world.recovery, "u1")
        await world.users.update("u1", {"mfa_enabled": True, "mfa_recovery_codes": stored})
        with pytest.raises(Forbidden):
            await renew.execute(principal(actor_id="admin"), first[0])
        second = await renew.execute(principal(), first[0])
        world.limiter.counts.clear()
        assert len(second) == 10 and not set(first) & set(second)
        assert len(world.users.rows["u1"].mfa_recovery_codes) == 10
        with pytest.raises(InvalidMfaCode):  # the old set is gone
            await disable.execute(principal(), first[1])
        await disable.execute(principal(), second[0])
    stored_after = world.users.rows["u1"]
    assert not stored_after.mfa_enabled and stored_after.mfa_recovery_codes == []
    assert "user.mfa_recovery_codes_renewed" in world.audit.actions()
