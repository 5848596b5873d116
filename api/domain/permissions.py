"""The permission catalog: every `resource:action` Parley knows, and the system roles.

Permissions are granted through roles. Tenant roles may hold tenant permissions only;
platform permissions (`tenants:*`) belong to platform admins.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    name: str
    description: str
    platform: bool = False


CATALOG: tuple[Permission, ...] = (
    Permission("users:read", "List and read users of the tenant"),
    Permission("users:write", "Create, invite and edit users"),
    Permission("users:delete", "Delete users"),
    Permission("users:activate", "Activate and deactivate users, clear lockouts"),
    Permission("users:manage_roles", "Change which roles users have"),
    Permission("roles:read", "List and read roles"),
    Permission("roles:write", "Create and edit roles"),
    Permission("roles:delete", "Delete roles"),
    Permission("audit:read", "Read the audit log"),
    Permission("tenant:read", "Read the tenant's settings"),
    Permission("tenant:update", "Change the tenant's settings"),
    Permission("files:read", "Read files"),
    Permission("files:write", "Upload and delete files"),
    Permission("storage:manage", "Configure where the tenant's files are stored"),
    Permission("ai:use", "Chat with AI models"),
    Permission("ai:manage", "Configure AI models and quotas"),
    Permission("tenants:read", "List and read every tenant", platform=True),
    Permission("tenants:write", "Create, edit and suspend tenants", platform=True),
    Permission("tenants:impersonate", "Act inside a tenant as one of its users", platform=True),
)

BY_NAME: dict[str, Permission] = {p.name: p for p in CATALOG}
TENANT_PERMISSIONS: frozenset[str] = frozenset(p.name for p in CATALOG if not p.platform)
PLATFORM_PERMISSIONS: frozenset[str] = frozenset(p.name for p in CATALOG if p.platform)

OWNER_ROLE = "owner"
ADMIN_ROLE = "admin"
MEMBER_ROLE = "member"

SYSTEM_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    OWNER_ROLE: ("Owns the tenant: every tenant permission", TENANT_PERMISSIONS),
    ADMIN_ROLE: ("Administers the tenant: every tenant permission", TENANT_PERMISSIONS),
    MEMBER_ROLE: (
        "A member of the tenant",
        frozenset({"ai:use", "files:read", "files:write"}),
    ),
}


def unknown_permissions(names: list[str] | set[str] | frozenset[str]) -> list[str]:
    """The names that are not in the catalog, sorted."""
    return sorted(n for n in names if n not in BY_NAME)
