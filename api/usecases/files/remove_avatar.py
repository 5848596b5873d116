"""Removing the avatar of a user who was deleted (their picture is personal data)."""

from __future__ import annotations

import logging

from api.domain.errors import ParleyError
from api.domain.identity.users import User
from api.usecases.files.file_store import FileStore

log = logging.getLogger(__name__)


class RemoveDeletedUsersAvatar:
    """After a user is deleted (by an admin or by themselves), remove their avatar: the
    blob, then its record. If the storage cannot be reached now the file is left behind
    and logged; the deletion stands."""

    def __init__(self, store: FileStore) -> None:
        self._store = store

    async def execute(self, user: User) -> bool:
        """True when an avatar was removed."""
        if not user.avatar_key:
            return False
        try:
            avatar = await self._store.find(user.avatar_key)
            if avatar is None:
                return False
            await self._store.remove(avatar)
        except ParleyError as exc:
            log.warning("could not remove a deleted user's avatar (%s); it is left", exc.code)
            return False
        return True
