"""The first platform admin, created from settings when absent."""

from __future__ import annotations

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.identity.auth import PasswordHasher
from api.domain.identity.users import PlatformUserRepository, User, normalize_email


class EnsurePlatformAdmin:
    """Create the first platform admin from settings when absent (never logs the password)."""

    def __init__(self, platform_users: PlatformUserRepository, hasher: PasswordHasher) -> None:
        self._platform_users = platform_users
        self._hasher = hasher

    async def execute(self, email: str, password: str, full_name: str = "Platform admin") -> User:
        email = normalize_email(email)
        existing = await self._platform_users.get_by_email(email)
        if existing is not None:
            return existing
        now = utcnow()
        admin = User(
            tenant_id=None,
            email=email,
            full_name=full_name,
            password_hash=await self._hasher.hash(password),
            email_verified=True,
            created_at=now,
            updated_at=now,
        )
        try:
            return await self._platform_users.add(admin)
        except Conflict:  # another process created it first
            winner = await self._platform_users.get_by_email(email)
            if winner is None:
                raise
            return winner
