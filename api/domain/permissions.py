"""The permission catalog: every `resource:action` Parley knows, and the system roles.

Permissions are granted through roles. Tenant roles may hold tenant permissions only;
platform permissions (`tenants:*`) belong to platform admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Permission(StrEnum):
    """Every `resource:action` Parley checks; members are their names (plain strings)."""

    USERS_READ = "users:read"
    USERS_WRITE = "users:write"
    USERS_DELETE = "users:delete"
    USERS_ACTIVATE = "users:activate"
    USERS_MANAGE_ROLES = "users:manage_roles"
    ROLES_READ = "roles:read"
    ROLES_WRITE = "roles:write"
    ROLES_DELETE = "roles:delete"
    AUDIT_READ = "audit:read"
    TENANT_READ = "tenant:read"
    TENANT_UPDATE = "tenant:update"
    API_KEYS_MANAGE = "api_keys:manage"
    FILES_READ = "files:read"
    FILES_WRITE = "files:write"
    STORAGE_MANAGE = "storage:manage"
    AI_USE = "ai:use"
    AI_MANAGE = "ai:manage"
    ASSISTANTS_MANAGE = "assistants:manage"
    CHANNELS_READ = "channels:read"
    CHANNELS_MANAGE = "channels:manage"
    INBOX_READ = "inbox:read"
    TEAMS_MANAGE = "teams:manage"
    TEMPLATES_READ = "templates:read"
    TEMPLATES_MANAGE = "templates:manage"
    CONTACTS_READ = "contacts:read"
    CONTACTS_WRITE = "contacts:write"
    CONTACTS_EXPORT = "contacts:export"
    CONTACTS_ERASE = "contacts:erase"
    INBOX_WRITE = "inbox:write"
    MESSAGES_SEND = "messages:send"
    INBOX_MANAGE = "inbox:manage"
    CAMPAIGNS_READ = "campaigns:read"
    CAMPAIGNS_MANAGE = "campaigns:manage"
    ANALYTICS_READ = "analytics:read"
    CRM_READ = "crm:read"
    CRM_WRITE = "crm:write"
    TICKETS_MANAGE = "tickets:manage"
    DEPARTMENTS_MANAGE = "departments:manage"
    TRANSCRIPTS_EXPORT = "transcripts:export"
    TENANTS_READ = "tenants:read"
    TENANTS_WRITE = "tenants:write"
    TENANTS_IMPERSONATE = "tenants:impersonate"
    PLANS_MANAGE = "plans:manage"
    PLATFORM_ANALYTICS_READ = "platform_analytics:read"


@dataclass(frozen=True)
class CatalogEntry:
    """A permission as the catalog lists it."""

    name: Permission
    description: str
    platform: bool = False


CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(Permission.USERS_READ, "List and read users of the tenant"),
    CatalogEntry(Permission.USERS_WRITE, "Create, invite and edit users"),
    CatalogEntry(Permission.USERS_DELETE, "Delete users"),
    CatalogEntry(Permission.USERS_ACTIVATE, "Activate and deactivate users, clear lockouts"),
    CatalogEntry(Permission.USERS_MANAGE_ROLES, "Change which roles users have"),
    CatalogEntry(Permission.ROLES_READ, "List and read roles"),
    CatalogEntry(Permission.ROLES_WRITE, "Create and edit roles"),
    CatalogEntry(Permission.ROLES_DELETE, "Delete roles"),
    CatalogEntry(Permission.AUDIT_READ, "Read the audit log"),
    CatalogEntry(Permission.TENANT_READ, "Read the tenant's settings"),
    CatalogEntry(Permission.TENANT_UPDATE, "Change the tenant's settings"),
    CatalogEntry(
        Permission.API_KEYS_MANAGE,
        "Create, list and revoke the tenant's API keys (for server-to-server integrations)",
    ),
    CatalogEntry(Permission.FILES_READ, "Read files"),
    CatalogEntry(Permission.FILES_WRITE, "Upload and delete files"),
    CatalogEntry(Permission.STORAGE_MANAGE, "Configure where the tenant's files are stored"),
    CatalogEntry(Permission.AI_USE, "Chat with AI models"),
    CatalogEntry(Permission.AI_MANAGE, "Configure AI models and quotas"),
    CatalogEntry(
        Permission.ASSISTANTS_MANAGE,
        "Create, change and delete the AI assistants that answer customers on channels",
    ),
    CatalogEntry(Permission.CHANNELS_READ, "List and read messaging channels"),
    CatalogEntry(Permission.CHANNELS_MANAGE, "Connect, change and disconnect messaging channels"),
    CatalogEntry(Permission.INBOX_READ, "Read the shared inbox: conversations and messages"),
    CatalogEntry(Permission.TEAMS_MANAGE, "Create, change and delete the inbox's teams"),
    CatalogEntry(Permission.TEMPLATES_READ, "List and read message templates"),
    CatalogEntry(
        Permission.TEMPLATES_MANAGE, "Sync, create and delete message templates with the provider"
    ),
    CatalogEntry(Permission.CONTACTS_READ, "List and read contacts, their stats and segments"),
    CatalogEntry(
        Permission.CONTACTS_WRITE,
        "Create, edit, delete, opt out and opt in contacts; manage segments",
    ),
    CatalogEntry(
        Permission.CONTACTS_EXPORT,
        "Export contacts (all their personal data) to a CSV file and download it",
    ),
    CatalogEntry(
        Permission.CONTACTS_ERASE,
        "Erase a contact for good (right to erasure): their details, what they wrote and "
        "the files they sent",
    ),
    CatalogEntry(
        Permission.INBOX_WRITE,
        "Work the shared inbox: mark read, assign, claim, resolve, reopen, snooze, tag, "
        "prioritise, write private notes",
    ),
    CatalogEntry(Permission.MESSAGES_SEND, "Send messages to customers through the channels"),
    CatalogEntry(
        Permission.INBOX_MANAGE,
        "Configure the inbox: auto-assignment, agent capacity, business hours, auto-reply",
    ),
    CatalogEntry(
        Permission.CAMPAIGNS_READ,
        "List and read broadcast campaigns, their runs, recipients and stats",
    ),
    CatalogEntry(
        Permission.CAMPAIGNS_MANAGE,
        "Create, change, schedule, start, pause, resume, cancel and delete broadcast campaigns",
    ),
    CatalogEntry(
        Permission.ANALYTICS_READ,
        "Read the tenant's dashboard: messages, conversations, response times, agents' "
        "load, campaigns",
    ),
    CatalogEntry(
        Permission.CRM_READ,
        "Read the CRM: departments, leads, meetings, tickets and callback requests",
    ),
    CatalogEntry(
        Permission.CRM_WRITE,
        "Create and work leads, meetings and callback requests",
    ),
    CatalogEntry(
        Permission.TICKETS_MANAGE, "Open, assign, answer, route and close support tickets"
    ),
    CatalogEntry(
        Permission.DEPARTMENTS_MANAGE,
        "Create, change and delete departments: members, business hours and SLA targets",
    ),
    CatalogEntry(
        Permission.TRANSCRIPTS_EXPORT,
        "Export a conversation's transcript (messages, notes, attachments as links) to a "
        "PDF or CSV file and download it (with inbox:read)",
    ),
    CatalogEntry(Permission.TENANTS_READ, "List and read every tenant", platform=True),
    CatalogEntry(Permission.TENANTS_WRITE, "Create, edit and suspend tenants", platform=True),
    CatalogEntry(
        Permission.TENANTS_IMPERSONATE, "Act inside a tenant as one of its users", platform=True
    ),
    CatalogEntry(
        Permission.PLANS_MANAGE,
        "Create, change and delete plans and their limits; put tenants on plans",
        platform=True,
    ),
    CatalogEntry(
        Permission.PLATFORM_ANALYTICS_READ,
        "Read the platform's figures by day: tenants, messages, AI tokens, storage",
        platform=True,
    ),
)

BY_NAME: dict[str, CatalogEntry] = {p.name: p for p in CATALOG}
TENANT_PERMISSIONS: frozenset[str] = frozenset(p.name for p in CATALOG if not p.platform)
PLATFORM_PERMISSIONS: frozenset[str] = frozenset(p.name for p in CATALOG if p.platform)

OWNER_ROLE = "owner"
ADMIN_ROLE = "admin"
MEMBER_ROLE = "member"
AGENT_ROLE = "agent"

SYSTEM_ROLES: dict[str, tuple[str, frozenset[str]]] = {
    OWNER_ROLE: ("Owns the tenant: every tenant permission", TENANT_PERMISSIONS),
    ADMIN_ROLE: ("Administers the tenant: every tenant permission", TENANT_PERMISSIONS),
    MEMBER_ROLE: (
        "A member of the tenant",
        frozenset({Permission.AI_USE, Permission.FILES_READ, Permission.FILES_WRITE}),
    ),
    AGENT_ROLE: (
        "Answers customers in the shared inbox",
        # Contacts too: agents keep a customer's details and honour "stop messaging me".
        frozenset(
            {
                Permission.INBOX_READ,
                Permission.INBOX_WRITE,
                Permission.MESSAGES_SEND,
                Permission.TEMPLATES_READ,
                Permission.CONTACTS_READ,
                Permission.CONTACTS_WRITE,
                Permission.CRM_READ,
                Permission.CRM_WRITE,
                Permission.TICKETS_MANAGE,
            }
        ),
    ),
}


def unknown_permissions(names: list[str] | set[str] | frozenset[str]) -> list[str]:
    """The names that are not in the catalog, sorted."""
    return sorted(n for n in names if n not in BY_NAME)
