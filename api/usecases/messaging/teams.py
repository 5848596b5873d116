"""The inbox's teams: created, listed, read, changed and deleted.

Rules: a name has 1 to 100 characters (trimmed) and is unique in the tenant regardless of
case (409 `team_name_taken`); members are users of the tenant, each once, at most 200
(422 `unknown_members` naming the others). Writes need `teams:manage` and are audited
(`team.created`, `team.updated`, `team.deleted`); reading needs `inbox:read` (agents see
the teams they can transfer to). Deleting a team takes it off its conversations.
"""

from __future__ import annotations

from api.domain.errors import FieldProblem, InvalidInput, NotFound
from api.domain.identity.auth import Principal
from api.domain.identity.users import UserRepository
from api.domain.messaging.conversations import ConversationRepository
from api.domain.messaging.errors import UnknownMembers
from api.domain.messaging.teams import Team, TeamPage, TeamRepository
from api.domain.permissions import Permission
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, dedupe, require_permission
from api.usecases.kernel.clock import stored_now
from api.usecases.kernel.names import group_name

TEAM_NOT_FOUND = "Team not found."
MAX_NAME_LENGTH = 100
MAX_MEMBERS = 200


class TeamRules:
    """Checks shared by creating and changing a team."""

    def __init__(self, users: UserRepository) -> None:
        self._users = users

    @staticmethod
    def name(raw: str) -> str:
        return group_name(raw, "team", MAX_NAME_LENGTH)

    async def members(self, raw: list[str]) -> list[str]:
        ids = dedupe(raw)
        if len(ids) > MAX_MEMBERS:
            raise InvalidInput(
                f"A team has at most {MAX_MEMBERS} members.",
                [FieldProblem(("member_ids",), f"at most {MAX_MEMBERS}")],
            )
        unknown = [i for i in ids if await self._users.get(i) is None]
        if unknown:
            raise UnknownMembers(
                "Team members must be users of this tenant: " + ", ".join(unknown) + ".",
                [FieldProblem(("member_ids",), f"unknown user id '{i}'") for i in unknown],
            )
        return ids


async def existing_team(teams: TeamRepository, team_id: str) -> Team:
    found = await teams.get(team_id)
    if found is None:
        raise NotFound(TEAM_NOT_FOUND)
    return found


class CreateTeam:
    """Create a team (`teams:manage`); see the module's rules."""

    def __init__(self, teams: TeamRepository, rules: TeamRules, auditor: Auditor) -> None:
        self._teams = teams
        self._rules = rules
        self._auditor = auditor

    async def execute(self, principal: Principal, name: str, member_ids: list[str]) -> Team:
        require_permission(principal, Permission.TEAMS_MANAGE)
        now = stored_now()
        team = await self._teams.add(
            Team(
                name=self._rules.name(name),
                member_ids=await self._rules.members(member_ids),
                created_at=now,
                updated_at=now,
            )
        )
        await self._auditor.record(
            "team.created", "team", team.id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": team.name, "member_ids": team.member_ids}),
        )  # fmt: skip
        return team


class UpdateTeam:
    """Rename a team and/or replace its members (`teams:manage`); None leaves a field."""

    def __init__(self, teams: TeamRepository, rules: TeamRules, auditor: Auditor) -> None:
        self._teams = teams
        self._rules = rules
        self._auditor = auditor

    async def execute(
        self,
        principal: Principal,
        team_id: str,
        *,
        name: str | None = None,
        member_ids: list[str] | None = None,
    ) -> Team:
        require_permission(principal, Permission.TEAMS_MANAGE)
        before = await existing_team(self._teams, team_id)
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = self._rules.name(name)
        if member_ids is not None:
            changes["member_ids"] = await self._rules.members(member_ids)
        changed = diff(before.model_dump(include={"name", "member_ids"}), changes)
        if not changed:
            return before
        after = await self._teams.update(team_id, changes)
        if after is None:
            raise NotFound(TEAM_NOT_FOUND)
        await self._auditor.record(
            "team.updated", "team", team_id, actor_id=principal.user_id,
            changes=audit_extra(principal, changed),
        )  # fmt: skip
        return after


class DeleteTeam:
    """Delete a team (`teams:manage`): its conversations keep their assignee and lose the
    team (no event is pushed for them; clients re-read). Audited `team.deleted` with how
    many conversations it was taken off."""

    def __init__(
        self, teams: TeamRepository, conversations: ConversationRepository, auditor: Auditor
    ) -> None:
        self._teams = teams
        self._conversations = conversations
        self._auditor = auditor

    async def execute(self, principal: Principal, team_id: str) -> None:
        require_permission(principal, Permission.TEAMS_MANAGE)
        team = await existing_team(self._teams, team_id)
        if not await self._teams.delete(team_id):
            raise NotFound(TEAM_NOT_FOUND)
        cleared = await self._conversations.clear_team(team_id)
        await self._auditor.record(
            "team.deleted", "team", team_id, actor_id=principal.user_id,
            changes=audit_extra(principal, {"name": team.name, "conversations": cleared}),
        )  # fmt: skip


class ListTeams:
    """The tenant's teams by name (`inbox:read`)."""

    def __init__(self, teams: TeamRepository) -> None:
        self._teams = teams

    async def execute(self, principal: Principal, *, page: int, page_size: int) -> TeamPage:
        require_permission(principal, Permission.INBOX_READ)
        return await self._teams.search(skip=(page - 1) * page_size, limit=page_size)


class GetTeam:
    """One team (`inbox:read`); another tenant's is 404."""

    def __init__(self, teams: TeamRepository) -> None:
        self._teams = teams

    async def execute(self, principal: Principal, team_id: str) -> Team:
        require_permission(principal, Permission.INBOX_READ)
        return await existing_team(self._teams, team_id)
