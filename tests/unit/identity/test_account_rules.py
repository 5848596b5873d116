"""Account-flow rules (passwords, reset links, MFA codes) with hand-written fakes of ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.common.clock import utcnow
from api.domain.audit import AuditEntry, AuditQuery
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
    RateDecision,
    RotateOutcome,
    Rotation,
    Session,
)
from api.domain.identity.users import User, UserPage
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.identity.account_mail import Mailer
from api.usecases.identity.account_security import AccountSecurity
from api.usecases.identity.change_password import ChangePassword
from api.usecases.identity.disable_mfa import DisableMfa
from api.usecases.identity.enable_mfa import EnableMfa
from api.usecases.identity.mfa_codes import MfaCodes
from api.usecases.identity.request_password_reset import RequestPasswordReset
from api.usecases.identity.reset_password import ResetPassword
from api.usecases.identity.rules import check_new_password, pending_verification, valid_email
from api.usecases.kernel.accounts import Accounts
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.mailer import QueueEmail
from tests.unit.email.test_email_usecases import FakeJobs, FakeOutbox

TENANT, OTHER = "a" * 24, "b" * 24
POLICY = AuthPolicy(sensitive_rate_per_ip=3)
GOOD = "correct-horse-1"


class FakeUsers:
    """In-memory users of one plane (stands in for both repositories)."""

    def __init__(self, *users: User) -> None:
        self.rows = {u.id or "": u for u in users}

    async def add(self, user: User) -> User:
        stored = user.model_copy(update={"id": f"u{len(self.rows) + 1}"})
        self.rows[stored.id or ""] = stored
        return stored

    async def get(self, user_id: str) -> User | None:
        return self.rows.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email == email), None)

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None:
        if user_id not in self.rows:
            return None
        self.rows[user_id] = self.rows[user_id].model_copy(update=changes)
        return self.rows[user_id]

    async def delete(self, user_id: str) -> bool:
        return self.rows.pop(user_id, None) is not None

    async def search(self, **_: Any) -> UserPage:
        return UserPage(items=list(self.rows.values()), total=len(self.rows))

    async def count_with_role(self, role_id: str) -> int:
        return 0

    async def remove_role_everywhere(self, role_id: str) -> list[str]:
        return []


class FakeLimiter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        self.counts[key] = self.counts.get(key, 0) + 1
        allowed = self.counts[key] <= limit
        return RateDecision(allowed=allowed, retry_after=0 if allowed else window_seconds)

    async def reset(self, key: str) -> None:
        self.counts.pop(key, None)

    async def count(self, key: str) -> int:
        return self.counts.get(key, 0)


class FakeOneTime:
    def __init__(self) -> None:
        self.live: dict[str, tuple[str, str, str | None]] = {}  # token -> purpose, user, tenant
        self.issued: list[tuple[str, str, int]] = []
        self.consumed: list[str] = []

    async def issue(
        self, *, purpose: str, user_id: str, tenant_id: str | None, ttl_seconds: int
    ) -> str:
        token = f"tok{len(self.issued)}"
        self.live[token] = (purpose, user_id, tenant_id)
        self.issued.append((purpose, user_id, ttl_seconds))
        return token

    async def consume(self, *, purpose: str, token: str) -> tuple[str, str | None] | None:
        self.consumed.append(token)
        entry = self.live.get(token)
        if entry is None or entry[0] != purpose:
            return None
        del self.live[token]
        return entry[1], entry[2]

    async def revoke_for_user(self, *, purpose: str, user_id: str) -> None:
        for token, (p, u, _) in list(self.live.items()):
            if (p, u) == (purpose, user_id):
                del self.live[token]


class FakeSessions:
    def __init__(self, *session_ids: str) -> None:
        self.live = set(session_ids)

    async def create(self, session: Session) -> None:
        self.live.add(session.id)

    async def rotate(self, session_id: str, presented_hash: str, new_hash: str) -> Rotation:
        return Rotation(RotateOutcome.INVALID)

    async def revoke(self, session_id: str) -> Session | None:
        self.live.discard(session_id)
        return None

    async def revoke_all(self, tenant_id: str | None, user_id: str) -> list[str]:
        ended, self.live = sorted(self.live), set()
        return ended


class FakeRevocations:
    def __init__(self) -> None:
        self.sessions: list[str] = []

    async def revoke_sessions(self, session_ids: list[str]) -> None:
        self.sessions.extend(session_ids)

    async def revoke_user(self, tenant_id: str | None, user_id: str, at: datetime) -> None:
        raise AssertionError("revoke_user would refuse a new sign-in in the same second")

    async def is_revoked(self, claims: Any) -> bool:
        return False


class FakeHasher:
    async def hash(self, password: str) -> str:
        return f"h:{password}"

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        return hashed == f"h:{password}", None


class FakeAuditLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    async def search(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        return self.entries, len(self.entries)

    def actions(self) -> list[str]:
        return [e.action for e in self.entries]


class FakeBox:
    def encrypt(self, plaintext: str) -> str:
        return "enc:" + plaintext[::-1]

    def decrypt(self, ciphertext: str) -> str:
        if not ciphertext.startswith("enc:"):
            raise ValueError("tampered")
        return ciphertext[4:][::-1]


class FakeTotp:
    """The valid code of a secret is its first six characters."""

    def new_secret(self) -> str:
        return "654321SEED"

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return f"otpauth://totp/{issuer}:{account}?secret={secret}"

    def verify(self, secret: str, code: str) -> bool:
        return code == secret[:6]


def user(**fields: Any) -> User:
    now = utcnow()
    base: dict[str, Any] = {
        "id": "u1", "tenant_id": TENANT, "email": "mia@acme.example.com", "full_name": "Mia",
        "password_hash": f"h:{GOOD}", "created_at": now, "updated_at": now,
    }  # fmt: skip
    return User(**{**base, **fields})


def principal(user_id: str = "u1", actor_id: str | None = None) -> Principal:
    now = datetime.now(UTC)
    return Principal(
        user_id=user_id, tenant_id=TENANT, session_id="s1", token_id="t1",
        permissions=frozenset(), issued_at=now, expires_at=now, actor_id=actor_id,
    )  # fmt: skip


class World:
    def __init__(self, *users: User, sessions: tuple[str, ...] = ()) -> None:
        self.users = FakeUsers(*users)
        self.accounts = Accounts(self.users, self.users)
        self.limiter, self.one_time, self.audit = FakeLimiter(), FakeOneTime(), FakeAuditLog()
        self.sessions, self.revocations = FakeSessions(*sessions), FakeRevocations()
        self.security = AccountSecurity(self.sessions, self.revocations, self.limiter)
        self.outbox, self.jobs = FakeOutbox(), FakeJobs()
        self.mailer = Mailer(QueueEmail(self.outbox, self.jobs))
        self.auditor = Auditor(self.audit)
        self.codes = MfaCodes(FakeTotp(), FakeBox(), self.limiter, self.auditor, POLICY)

    def reset(self) -> ResetPassword:
        return ResetPassword(
            self.accounts, FakeHasher(), self.one_time, self.security, self.limiter,
            self.auditor, POLICY,
        )  # fmt: skip


def test_password_problems_are_reported_on_the_named_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_new_password("short", email="a@b.co", min_length=8, field="new_password")
    assert [p.loc for p in caught.value.problems] == [("new_password",)]
    check_new_password("long-enough-1", email="a@b.co", min_length=8, field="new_password")


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


async def test_reset_checks_length_before_spending_and_ends_sessions_per_session() -> None:
    world = World(user(), sessions=("s1", "s2"))
    token = await world.one_time.issue(
        purpose="password_reset", user_id="u1", tenant_id=TENANT, ttl_seconds=60
    )
    with tenant_context(TenantId(TENANT)):
        with pytest.raises(InvalidInput):
            await world.reset().execute(token, "short")
        assert world.one_time.consumed == []
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
        world.accounts, FakeHasher(), world.one_time, world.security, world.limiter,
        world.auditor, POLICY,
    )  # fmt: skip
    with tenant_context(TenantId(TENANT)):
        with pytest.raises(Forbidden):
            await change.execute(principal(actor_id="admin"), GOOD, "a-new-password-1")
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
    enable = EnableMfa(world.accounts, world.codes, world.auditor)
    disable = DisableMfa(world.accounts, world.codes, world.auditor)
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
