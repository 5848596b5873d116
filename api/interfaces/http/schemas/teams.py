"""The inbox's teams: what clients send and read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.domain.messaging.teams import Team, TeamPage
from api.usecases.messaging.teams import MAX_MEMBERS, MAX_NAME_LENGTH

MemberIds = list[Annotated[str, Field(min_length=1, max_length=64)]]


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    member_ids: MemberIds = Field(
        default_factory=list,
        max_length=MAX_MEMBERS,
        description="User ids of the tenant's users (each once).",
    )


class TeamUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    member_ids: MemberIds | None = Field(
        default=None, max_length=MAX_MEMBERS, description="Replaces the members when given."
    )


class TeamOut(BaseModel):
    id: str
    name: str
    member_ids: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, team: Team) -> TeamOut:
        return cls.model_validate(team.model_dump(exclude={"tenant_id"}))


class TeamPageOut(BaseModel):
    items: list[TeamOut]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, found: TeamPage, page: int, page_size: int) -> TeamPageOut:
        return cls(
            items=[TeamOut.of(t) for t in found.items],
            total=found.total,
            page=page,
            page_size=page_size,
        )
