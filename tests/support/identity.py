"""Identity for unit tests: builders of one tenant's roles, users and principals, and a
`World` (system roles, users with a session each) wired into the user and role use cases
over the fakes of `tests.fakes`."""

from __future__ import annotations

from datetime import timedelta

from api.common.clock import utcnow
from api.domain.identity.auth import Principal
from api.domain.identity.roles import Role
from api.domain.identity.users import User
from api.domain.permissions import SYSTEM_ROLES
from api.usecases.identity.set_user_active import DeactivateUser
from api.usecases.identity.set_user_roles import SetUserRoles
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import Authority, SessionEnder
from tests.fakes.audit import FakeAuditLog
from tests.fakes.identity import FakeRevocations, FakeRoles, FakeSessions, FakeUsers

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


class World:
    """A tenant: system roles plus `extra_roles`, users, sessions, and the use cases' ports."""

    def __init__(self, *users: User, extra_roles: list[Role] | None = None) -> None:
        self.users = FakeUsers(*users)
        self.roles = FakeRoles([*system_roles(), *(extra_roles or [])])
        self.sessions = FakeSessions()
        self.revocations = FakeRevocations()
        self.audit = FakeAuditLog()
        for u in users:
            self.sessions.active[TENANT, u.id or ""] = [f"s-{u.id}"]

    @property
    def authority(self) -> Authority:
        return Authority(self.users, self.roles)

    def set_roles(self) -> SetUserRoles:
        ender = SessionEnder(self.sessions, self.revocations)
        return SetUserRoles(self.users, self.authority, ender, Auditor(self.audit))

    def deactivate(self) -> DeactivateUser:
        ender = SessionEnder(self.sessions, self.revocations)
        return DeactivateUser(self.users, self.authority, ender, Auditor(self.audit))
