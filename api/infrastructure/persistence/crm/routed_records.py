"""`RoutedRecords` over the raw collections of every context that routes records to a
department (conversations, leads, tickets, callback requests): counts of `department_id`
within the current tenant, read straight from the collections (so this adapter needs no
document class of the other contexts, nor their code to exist yet: a missing collection
counts nothing).

Each count filters on `(tenant_id, department_id)` with the tenant first, and stops at
the first match (`limit=1`): deleting a department only needs to know whether any record
still names it.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from api.domain.tenancy import current_tenant
from api.infrastructure.persistence.base.mongo import database_errors
from api.infrastructure.persistence.base.scoped import TENANT_FIELD
from api.infrastructure.persistence.crm.departments import DepartmentDocument

# The collections whose documents carry `department_id` (CRM.md), by record kind.
ROUTED_COLLECTIONS: dict[str, str] = {
    "conversations": "conversations",
    "leads": "crm_leads",
    "tickets": "crm_tickets",
    "callback_requests": "crm_callback_requests",
}


class CollectionRoutedRecords:
    """`RoutedRecords` adapter: which routed collections hold a record of the current
    tenant naming the department (see the module docstring)."""

    @staticmethod
    def _database() -> AsyncDatabase[dict[str, Any]]:
        # The database the documents are bound to (any bound class would do).
        return DepartmentDocument.get_pymongo_collection().database

    async def kinds_routed_to(self, department_id: str) -> list[str]:
        tenant_id = current_tenant()  # no tenant: TenantRequired
        database = self._database()
        kinds: list[str] = []
        for kind, collection in ROUTED_COLLECTIONS.items():
            with database_errors():
                found = await database[collection].count_documents(
                    {TENANT_FIELD: tenant_id, "department_id": department_id}, limit=1
                )
            if found:
                kinds.append(kind)
        return kinds
