"""Hand-written fakes of the identity ports (users, roles, sessions, revocations, audit)
and small builders, for unit tests of the user and role use cases."""

from __future__ import annotations

from datetime import timedelta

from api.common.clock import utcnow
from api.domain.audit import AuditEntry, AuditQuery
from api.domain.identity.auth import AccessClaims, Principal, Rotation, Session
from api.domain.identity.roles import Role
from api.domain.identity.users import User, UserPage
from api.domain.permissions import SYSTEM_ROLES
from api.usecases.identity.set_user_active import DeactivateUser
from api.usecases.identity.set_user_roles import SetUserRoles
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import Authority, SessionEnder

TENANT = "t" * 24


def role(
    role_id: str, permissions: list[str], inherits: list[str] | None = None, *, system: bool = False
) -> Role:
    now = utcnow()
    return Role(
        id=role_id,
        tenant_id=TENANT,
        name=role_id,
        permissions=permissions,
        inherits=inherits or [],
        system=system,
        created_at=now,
        updated_at=now,
    )


def user(user_id: str, role_ids: list[str], *, active: bool = True) -> User:
    now = utcnow()
    return User(
        id=user_id,
        tenant_id=TENANT,
        email=f"{user_id}@example.com",
        full_name=user_id,
        role_ids=role_ids,
        is_active=active,
        password_hash="x",
        created_at=now,
        updated_at=now,
    )


def principal(user_id: str, permissions: set[str] | frozenset[str]) -> Principal:
    now = utcnow()
    return Principal(
        user_id=user_id,
        tenant_id=TENANT,
        session_id=f"s-{user_id}",
        token_id="j",
        permissions=frozenset(permissions),
        issued_at=now,
        expires_at=now + timedelta(minutes=5),
    )


def system_roles() -> list[Role]:
    return [role(name, sorted(perms), system=True) for name, (_, perms) in SYSTEM_ROLES.items()]


class FakeUsers:
    def __init__(self, *users: User) -> None:
        self.users = {u.id or "": u for u in users}

    async def add(self, new: User) -> User:
        stored = new.model_copy(update={"id": f"u{len(self.users)}"})
        self.users[stored.id or ""] = stored
        return stored

    async def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email == email), None)

    async def update(self, user_id: str, changes: dict[str, object]) -> User | None:
        if user_id not in self.users:
            return None
        self.users[user_id] = self.users[user_id].model_copy(update=changes)
        return self.users[user_id]

    async def delete(self, user_id: str) -> bool:
        return self.users.pop(user_id, None) is not None

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
            for u in self.users.values()
            if (is_active is None or u.is_active is is_active)
            and (role_id is None or role_id in u.role_ids)
        ]
        return UserPage(items=found[skip : skip + limit] if limit > 0 else [], total=len(found))

    async def count_with_role(self, role_id: str) -> int:
        return sum(role_id in u.role_ids for u in self.users.values())

    async def remove_role_everywhere(self, role_id: str) -> list[str]:
        raise NotImplementedError


class FakeRoles:
    def __init__(self, roles: list[Role]) -> None:
        self.roles = {r.id or "": r for r in roles}

    async def add(self, new: Role) -> Role:
        stored = new.model_copy(update={"id": f"r{len(self.roles)}"})
        self.roles[stored.id or ""] = stored
        return stored

    async def get(self, role_id: str) -> Role | None:
        return self.roles.get(role_id)

    async def get_by_name(self, name: str) -> Role | None:
        return next((r for r in self.roles.values() if r.name == name), None)

    async def all(self) -> list[Role]:
        return list(self.roles.values())

    async def update(self, role_id: str, changes: dict[str, object]) -> Role | None:
        raise NotImplementedError

    async def delete(self, role_id: str) -> bool:
        raise NotImplementedError


class FakeSessions:
    def __init__(self) -> None:
        self.active: dict[str, list[str]] = {}

    async def create(self, session: Session) -> None:
        self.active.setdefault(session.user_id, []).append(session.id)

    async def rotate(self, session_id: str, presented_hash: str, new_hash: str) -> Rotation:
        raise NotImplementedError

    async def revoke(self, session_id: str) -> Session | None:
        raise NotImplementedError

    async def revoke_all(self, tenant_id: str | None, user_id: str) -> list[str]:
        assert tenant_id == TENANT
        return self.active.pop(user_id, [])


class FakeRevocations:
    def __init__(self) -> None:
        self.sessions: list[str] = []

    async def revoke_sessions(self, session_ids: list[str]) -> None:
        self.sessions.extend(session_ids)

    async def revoke_user(self, tenant_id: str | None, user_id: str, at: object) -> None:
        raise AssertionError("revoke_user has a same-second pitfall: not used here")

    async def is_revoked(self, claims: AccessClaims) -> bool:
        return claims.session_id in self.sessions


class FakeAuditLog:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    async def search(self, query: AuditQuery) -> tuple[list[AuditEntry], int]:
        return self.entries, len(self.entries)


class World:
    """A tenant: system roles plus `extra_roles`, users, sessions, and the use cases' ports."""

    def __init__(self, *users: User, extra_roles: list[Role] | None = None) -> None:
        self.users = FakeUsers(*users)
        self.roles = FakeRoles([*system_roles(), *(extra_roles or [])])
        self.sessions = FakeSessions()
        self.revocations = FakeRevocations()
        self.audit = FakeAuditLog()
        for u in users:
            self.sessions.active[u.id or ""] = [f"s-{u.id}"]

    @property
    def authority(self) -> Authority:
        return Authority(self.users, self.roles)

    def set_roles(self) -> SetUserRoles:
        ender = SessionEnder(self.sessions, self.revocations)
        return SetUserRoles(self.users, self.authority, ender, Auditor(self.audit))

    def deactivate(self) -> DeactivateUser:
        ender = SessionEnder(self.sessions, self.revocations)
        return DeactivateUser(self.users, self.authority, ender, Auditor(self.audit))
