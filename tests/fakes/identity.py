"""Fakes of the identity ports: users, roles, sessions, revocations, the rate limiter,
one-time tokens, the password hasher, the secret box and TOTP."""

from __future__ import annotations

from datetime import datetime

from api.domain.identity.auth import (
    AccessClaims,
    BreachedPasswords,
    OneTimeTokens,
    PasswordHasher,
    RateDecision,
    RateLimiter,
    Revocations,
    RotateOutcome,
    Rotation,
    SecretBox,
    Session,
    SessionStore,
    Totp,
)
from api.domain.identity.roles import Role, RoleRepository
from api.domain.identity.users import User, UserPage, UserRepository


class FakeUsers(UserRepository):
    """Users of one tenant by id (new ones get `u<n>`); it serves as the platform's users
    too where a use case needs both."""

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

    async def find_by_phone(self, phone: str, *, limit: int) -> list[User]:
        return [u for u in self.rows.values() if u.phone == phone][:limit]

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None:
        if user_id not in self.rows:
            return None
        self.rows[user_id] = self.rows[user_id].model_copy(update=changes)
        return self.rows[user_id]

    async def spend_recovery_code(self, user_id: str, digest: str) -> User | None:
        user = self.rows.get(user_id)
        if user is None or not user.mfa_enabled or digest not in user.mfa_recovery_codes:
            return None
        left = [code for code in user.mfa_recovery_codes if code != digest]
        return await self.update(user_id, {"mfa_recovery_codes": left})

    async def delete(self, user_id: str) -> bool:
        return self.rows.pop(user_id, None) is not None

    async def all(self) -> list[User]:
        return list(self.rows.values())

    async def search(
        self,
        *,
        query: str | None,
        is_active: bool | None,
        role_id: str | None,
        skip: int,
        limit: int,
    ) -> UserPage:
        found = [
            u
            for u in self.rows.values()
            if (is_active is None or u.is_active is is_active)
            and (role_id is None or role_id in u.role_ids)
        ]
        return UserPage(items=found[skip : skip + limit] if limit > 0 else [], total=len(found))

    async def count_with_role(self, role_id: str) -> int:
        return sum(role_id in u.role_ids for u in self.rows.values())

    async def remove_role_everywhere(self, role_id: str) -> list[str]:
        holders = [i for i, u in self.rows.items() if role_id in u.role_ids]
        for i in holders:
            kept = [r for r in self.rows[i].role_ids if r != role_id]
            self.rows[i] = self.rows[i].model_copy(update={"role_ids": kept})
        return holders


class FakeRoles(RoleRepository):
    """Roles of one tenant by id (new ones get `r<n>`)."""

    def __init__(self, roles: list[Role]) -> None:
        self.rows = {r.id or "": r for r in roles}

    async def add(self, role: Role) -> Role:
        stored = role.model_copy(update={"id": f"r{len(self.rows)}"})
        self.rows[stored.id or ""] = stored
        return stored

    async def get(self, role_id: str) -> Role | None:
        return self.rows.get(role_id)

    async def get_by_name(self, name: str) -> Role | None:
        return next((r for r in self.rows.values() if r.name == name), None)

    async def all(self) -> list[Role]:
        return list(self.rows.values())

    async def update(self, role_id: str, changes: dict[str, object]) -> Role | None:
        raise NotImplementedError

    async def delete(self, role_id: str) -> bool:
        raise NotImplementedError


class FakeSessions(SessionStore):
    """The live session ids of each (tenant, user); refresh tokens never rotate."""

    def __init__(self) -> None:
        self.active: dict[tuple[str | None, str], list[str]] = {}
        self.started: dict[str, Session] = {}

    async def create(self, session: Session) -> None:
        self.active.setdefault((session.tenant_id, session.user_id), []).append(session.id)
        self.started[session.id] = session

    async def rotate(self, session_id: str, presented_hash: str, new_hash: str) -> Rotation:
        return Rotation(RotateOutcome.INVALID)

    async def revoke(self, session_id: str) -> Session | None:
        for ids in self.active.values():
            if session_id in ids:
                ids.remove(session_id)
        return None

    async def revoke_all(self, tenant_id: str | None, user_id: str) -> list[str]:
        return self.active.pop((tenant_id, user_id), [])

    async def revoke_many(self, tenant_id: str | None, user_id: str, session_ids: list[str]) -> int:
        owned = self.active.get((tenant_id, user_id), [])
        ending = [session_id for session_id in owned if session_id in session_ids]
        for session_id in ending:
            owned.remove(session_id)
        return len(ending)

    async def clients_before(
        self, tenant_id: str | None, user_id: str, session_id: str
    ) -> set[str | None]:
        return {
            s.user_agent
            for s in self.started.values()
            if (s.tenant_id, s.user_id) == (tenant_id, user_id) and s.id != session_id
        }

    async def live(self, tenant_id: str | None, user_id: str) -> list[Session]:
        ids = self.active.get((tenant_id, user_id), [])
        return [self.started[i] for i in reversed(ids) if i in self.started]


class FakeRevocations(Revocations):
    """Revoked session ids. `revoke_user` is refused: it would also refuse a new sign-in
    in the same second, so the use cases revoke sessions one by one instead."""

    def __init__(self) -> None:
        self.sessions: list[str] = []

    async def revoke_sessions(self, session_ids: list[str]) -> None:
        self.sessions.extend(session_ids)

    async def revoke_user(self, tenant_id: str | None, user_id: str, at: datetime) -> None:
        raise AssertionError("revoke_user would refuse a new sign-in in the same second")

    async def is_revoked(self, claims: AccessClaims) -> bool:
        return claims.session_id in self.sessions


class FakeLimiter(RateLimiter):
    """Counts hits per key, allowed up to the limit asked for; with `allowed`, only that
    many hits in all are allowed, whatever the keys, and refusals say `retry_after`."""

    def __init__(self, *, allowed: int | None = None, retry_after: int | None = None) -> None:
        self.counts: dict[str, int] = {}
        self.hits: list[tuple[str, int, int]] = []  # (key, limit, window in seconds)
        self.allowed = allowed
        self.retry_after = retry_after

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateDecision:
        self.hits.append((key, limit, window_seconds))
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.allowed is None:
            allowed = self.counts[key] <= limit
        else:
            allowed = len(self.hits) <= self.allowed
        wait = window_seconds if self.retry_after is None else self.retry_after
        return RateDecision(allowed=allowed, retry_after=0 if allowed else wait)

    async def reset(self, key: str) -> None:
        self.counts.pop(key, None)

    async def count(self, key: str) -> int:
        return self.counts.get(key, 0)


class FakeOneTime(OneTimeTokens):
    """Tokens `tok0`, `tok1`, ...: what was issued, what is live, what was presented."""

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


class FakeHasher(PasswordHasher):
    """The hash of `pw` is `h:pw`."""

    async def hash(self, password: str) -> str:
        return f"h:{password}"

    async def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        return hashed == f"h:{password}", None


class FakeBreaches(BreachedPasswords):
    """The passwords in `breached` are known from breaches; `asked` records every check."""

    def __init__(self, *breached: str) -> None:
        self.breached = set(breached)
        self.asked: list[str] = []

    async def is_breached(self, password: str) -> bool:
        self.asked.append(password)
        return password in self.breached


class FakeBox(SecretBox):
    """Reverses the text behind an `enc:` prefix; anything else is tampered with."""

    def encrypt(self, plaintext: str) -> str:
        return "enc:" + plaintext[::-1]

    def decrypt(self, ciphertext: str) -> str:
        if not ciphertext.startswith("enc:"):
            raise ValueError("tampered")
        return ciphertext[4:][::-1]

    def reseal(self, ciphertext: str) -> str | None:
        self.decrypt(ciphertext)
        return None  # one key: everything is sealed under the current one


class FakeTotp(Totp):
    """The valid code of a secret is its first six characters."""

    def new_secret(self) -> str:
        return "654321SEED"

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return f"otpauth://totp/{issuer}:{account}?secret={secret}"

    def verify(self, secret: str, code: str) -> bool:
        return code == secret[:6]
