"""Who may grant what, and who may act on whom: the rules the user and role use cases share.

The pure rules (no I/O) are functions; `Authority` loads what they need (the tenant's
roles, the actor's current permissions, how many active owners remain) and
`SessionEnder` makes a change to someone's access apply at once.

- Nobody grants a permission they do not hold: a role the actor creates, edits or assigns
  may only grant (effectively, through inheritance) permissions the actor holds.
- Nobody manages someone above them: acting on another user (edit, delete, roles,
  activate, deactivate) or on a role (edit, delete) needs every permission that user or
  role holds, so a narrow administrator cannot demote, disable or take over a wider one.
- The actor's permissions are those of the access token AND of the roles held right now
  (a token minted before a demotion cannot be used to grant).
- A tenant always keeps an active owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from api.domain.errors import Conflict, FieldProblem, Forbidden, InvalidInput, Unauthorized
from api.domain.identity.auth import Principal, Revocations, SessionStore
from api.domain.identity.roles import Role, RoleRepository, effective_permissions
from api.domain.identity.users import User, UserRepository
from api.domain.permissions import OWNER_ROLE, Permission
from api.domain.tenancy import current_tenant


def missing_permissions(held: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The permissions of `wanted` that are not in `held`, sorted."""
    have = set(held)
    return sorted(set(wanted) - have)


def check_can_grant(held: Iterable[str], granted: Iterable[str]) -> None:
    """`Forbidden` naming what is missing when `granted` is not within `held`."""
    missing = missing_permissions(held, granted)
    if missing:
        raise Forbidden(
            "You cannot grant permissions you do not hold yourself: " + ", ".join(missing) + "."
        )


def check_may_manage(held: Iterable[str], target_permissions: Iterable[str], what: str) -> None:
    """`Forbidden` when the target (a user or a role) holds permissions the actor lacks."""
    missing = missing_permissions(held, target_permissions)
    if missing:
        raise Forbidden(
            f"You cannot manage a {what} holding permissions you do not hold: "
            + ", ".join(missing)
            + "."
        )


def require_permission(principal: Principal, permission: Permission) -> None:
    """`Forbidden` unless the caller's token carries `permission` (the routes check it too)."""
    if not principal.can(permission):
        raise Forbidden(f"This needs the '{permission}' permission.")


def check_keeps_an_owner(*, was_active_owner: bool, stays_owner: bool, active_owners: int) -> None:
    """`Conflict` when the change takes away the tenant's last active owner."""
    if was_active_owner and not stays_owner and active_owners <= 1:
        raise Conflict("The tenant must keep at least one active owner.")


def dedupe(ids: Iterable[str]) -> list[str]:
    """The ids in their first order, each once."""
    return list(dict.fromkeys(ids))


class RoleBook:
    """A snapshot of the tenant's roles, for effective-permission and validity questions."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self.roles: dict[str, Role] = {role.id: role for role in roles if role.id}
        self.owner_role_id = next(
            (i for i, r in self.roles.items() if r.system and r.name == OWNER_ROLE), None
        )

    def effective(self, role_ids: Iterable[str]) -> frozenset[str]:
        return frozenset(effective_permissions(role_ids, self.roles))

    def known(self, role_ids: Iterable[str], field: str) -> list[str]:
        """The ids, deduplicated; `InvalidInput` naming the ones that are not roles here."""
        ids = dedupe(role_ids)
        unknown = [i for i in ids if i not in self.roles]
        if unknown:
            raise InvalidInput(
                "Unknown role ids: " + ", ".join(unknown) + ".",
                [FieldProblem((field,), f"unknown role id '{i}'") for i in unknown],
            )
        return ids

    def is_active_owner(self, user: User) -> bool:
        return user.is_active and self.owner_role_id is not None and self.holds_owner(user.role_ids)

    def holds_owner(self, role_ids: Iterable[str]) -> bool:
        return self.owner_role_id in set(role_ids)

    def inheritors(self, role_id: str) -> list[Role]:
        """Roles that inherit `role_id` directly."""
        return [r for r in self.roles.values() if role_id in r.inherits]

    def with_role(self, role: Role) -> RoleBook:
        """The book as it would be with `role` stored (added or replaced)."""
        return RoleBook([*(r for r in self.roles.values() if r.id != role.id), role])


def weakened_roles(before: RoleBook, after: RoleBook) -> list[str]:
    """Ids of roles that grant, effectively, less in `after` than in `before`."""
    return [
        role_id
        for role_id in before.roles
        if not before.effective([role_id]) <= after.effective([role_id])
    ]


class Authority:
    """Loads what authorisation decisions need, within the current tenant."""

    def __init__(self, users: UserRepository, roles: RoleRepository) -> None:
        self._users = users
        self._roles = roles

    async def book(self) -> RoleBook:
        return RoleBook(await self._roles.all())

    async def held_by(self, principal: Principal, book: RoleBook) -> frozenset[str]:
        """The actor's permissions: in the token and granted by the roles held right now
        (an API key's: the key's, which its creator held when it was made)."""
        if principal.is_api_key:
            return principal.permissions
        actor = await self._users.get(principal.user_id)
        if actor is None or not actor.is_active:
            raise Unauthorized("The account is no longer active.")
        return principal.permissions & book.effective(actor.role_ids)

    async def check_keeps_an_owner(
        self, target: User, *, stays_owner: bool, book: RoleBook
    ) -> None:
        """`Conflict` when changing `target` this way leaves the tenant with no active owner."""
        if not book.is_active_owner(target) or stays_owner or book.owner_role_id is None:
            return
        page = await self._users.search(
            query=None, is_active=True, role_id=book.owner_role_id, skip=0, limit=0
        )
        check_keeps_an_owner(was_active_owner=True, stays_owner=False, active_owners=page.total)

    async def holders(self, role_ids: Iterable[str]) -> list[str]:
        """Ids of the users holding any of `role_ids`."""
        found: dict[str, None] = {}
        for role_id in dedupe(role_ids):
            skip = 0
            while True:
                page = await self._users.search(
                    query=None, is_active=None, role_id=role_id, skip=skip, limit=100
                )
                found.update({u.id: None for u in page.items if u.id})
                skip += len(page.items)
                if not page.items or skip >= page.total:
                    break
        return list(found)


class SessionEnder:
    """Ends every session of a user at once: refresh tokens spent, access tokens refused."""

    def __init__(self, sessions: SessionStore, revocations: Revocations) -> None:
        self._sessions = sessions
        self._revocations = revocations

    async def end(self, user_ids: Iterable[str]) -> None:
        tenant_id = current_tenant()
        for user_id in dedupe(user_ids):
            session_ids = await self._sessions.revoke_all(tenant_id, user_id)
            await self._revocations.revoke_sessions(session_ids)


def audit_extra(principal: Principal, changes: Mapping[str, object]) -> dict[str, object]:
    """`changes`, naming the platform admin when one acts through impersonation."""
    extra = dict(changes)
    if principal.actor_id:
        extra["impersonated_by"] = principal.actor_id
    return extra
