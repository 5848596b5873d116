"""Teams in MongoDB: tenant-owned, names unique per tenant regardless of case."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import SortDirection
from pydantic import Field
from pymongo import IndexModel

from api.common.clock import utcnow
from api.domain.errors import Conflict
from api.domain.messaging.errors import TeamNameTaken
from api.domain.messaging.teams import Team, TeamPage
from api.infrastructure.persistence.base.names import name_key
from api.infrastructure.persistence.base.scoped import (
    TENANT_FIELD,
    TenantOwnedDocument,
    TenantScopedRepository,
)

NAME_TAKEN = "A team with this name already exists."
_FIELDS = {"name", "member_ids", "created_at", "updated_at"}
_CHANGEABLE = frozenset({"name", "member_ids"})


class TeamDocument(TenantOwnedDocument):
    name: str
    name_key: str  # name_key(name), kept in sync by the repository
    member_ids: list[str] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "teams"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([(TENANT_FIELD, 1), ("name_key", 1)], unique=True, name="team_name_unique"),
        ]

    def to_entity(self) -> Team:
        return Team(id=str(self.id), tenant_id=self.tenant_id, **self.model_dump(include=_FIELDS))


class BeanieTeamRepository:
    """`TeamRepository` adapter (fail closed: `TenantRequired` without a tenant)."""

    def __init__(self) -> None:
        self._scoped = TenantScopedRepository(TeamDocument)

    async def add(self, team: Team) -> Team:
        document = TeamDocument(name_key=name_key(team.name), **team.model_dump(include=_FIELDS))
        try:
            return (await self._scoped.insert(document)).to_entity()
        except Conflict as exc:
            raise TeamNameTaken(NAME_TAKEN) from exc

    async def get(self, team_id: str) -> Team | None:
        self._scoped.scope()  # no tenant: TenantRequired, even for a malformed id
        document = await self._scoped.get(team_id)
        return document.to_entity() if document else None

    async def update(self, team_id: str, changes: dict[str, object]) -> Team | None:
        self._scoped.scope()
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"teams cannot change {sorted(unknown)}")
        prepared: dict[str, Any] = {**changes, "updated_at": utcnow()}
        if isinstance(changes.get("name"), str):
            prepared["name_key"] = name_key(str(changes["name"]))
        try:
            document = await self._scoped.update(team_id, prepared)
        except Conflict as exc:
            raise TeamNameTaken(NAME_TAKEN) from exc
        return document.to_entity() if document else None

    async def delete(self, team_id: str) -> bool:
        self._scoped.scope()
        return await self._scoped.delete(team_id)

    async def search(self, *, skip: int, limit: int) -> TeamPage:
        found = await self._scoped.find(
            sort=[("name_key", SortDirection.ASCENDING), ("_id", SortDirection.ASCENDING)],
            skip=skip,
            limit=limit,
        )
        return TeamPage(items=[d.to_entity() for d in found], total=await self._scoped.count())
