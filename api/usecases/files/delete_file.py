"""Deleting a file: the blob, then its metadata."""

from __future__ import annotations

from api.domain.errors import Conflict
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.plans import LimitName
from api.usecases.files.file_store import FileStore
from api.usecases.files.rules import AVATAR
from api.usecases.kernel.auditor import Auditor
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.plan_gate import PlanGate


class DeleteFile:
    """Delete a file (`files:write`): the blob, then its metadata.

    Rules: another tenant's file is 404; a user's avatar is replaced through the avatar
    route, not deleted here (409). Audited: `file.deleted`.
    """

    def __init__(self, store: FileStore, auditor: Auditor, gate: PlanGate) -> None:
        self._store = store
        self._auditor = auditor
        self._gate = gate

    async def execute(self, principal: Principal, file_id: str) -> None:
        require_permission(principal, Permission.FILES_WRITE)
        file = await self._store.get(file_id)
        if file.purpose == AVATAR:
            raise Conflict("This file is a user's avatar; replace it with a new avatar.")
        await self._store.remove(file)
        await self._gate.freed(LimitName.STORAGE_BYTES, file.size)
        await self._auditor.record(
            "file.deleted", "file", file_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"filename": file.filename}),
        )  # fmt: skip
