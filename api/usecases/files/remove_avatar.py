"""Removing the avatar of a user who was deleted (their picture is personal data)."""

from __future__ import annotations

import logging

from api.domain.errors import ParleyError
from api.domain.identity.users import User
from api.usecases.files.file_store import FileStore

log = logging.getLogger(__name__)


async def remove_avatar(store: FileStore, file_id: str, *, whose: str) -> bool:
    """Remove the avatar file `file_id` (blob, then record), if it is there; a storage
    that cannot be reached now leaves it behind, logged (naming `whose` avatar it was).
    True when one was removed."""
    try:
        avatar = await store.find(file_id)
        if avatar is None:
            return False
        await store.remove(avatar)
    except ParleyError as exc:
        log.warning("could not remove %s avatar (%s); it is left behind", whose, exc.code)
        return False
    return True


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
        return await remove_avatar(self._store, user.avatar_key, whose="a deleted user's")
