"""Reading a file's metadata with a fresh signed URL."""

from __future__ import annotations

from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.usecases.files.file_store import FileStore, FileWithUrl
from api.usecases.kernel.authority import require_permission


class GetFile:
    """A file's metadata and a fresh signed URL (`files:read`); another tenant's is 404.

    Rules: the URL is signed by the provider of the settings version the file was written
    with, so files stay readable after the tenant switches provider.
    """

    def __init__(self, store: FileStore) -> None:
        self._store = store

    async def execute(self, principal: Principal, file_id: str) -> FileWithUrl:
        require_permission(principal, Permission.FILES_READ)
        file = await self._store.get(file_id)
        return FileWithUrl(file=file, url=await self._store.signed_url(file))
