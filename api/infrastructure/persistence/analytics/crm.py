"""The CRM's dashboard figures, read from the CRM features' own documents by aggregation.

It relies only on these fields, so a change there is adjusted here alone:

- `crm_leads` (`LeadDocument`): `stage`, `value_minor`, `currency`;
- `crm_tickets` (`TicketDocument`): `status`, `sla.breached`,
  `sla.first_response_breached_at`, `sla.resolution_breached_at`;
- `crm_meetings` (`MeetingDocument`): `status`, `starts_at`.

Every read goes through `DepartmentScopedRepository`: the tenant in the first `$match`,
and a caller limited to departments counts only their departments' records.
"""

from __future__ import annotations

from typing import Any

from api.domain.analytics.dashboard import (
    CrmFigures,
    MeetingAttendance,
    MoneyTotal,
    PipelineStage,
    TicketSla,
    Window,
)
from api.domain.crm.leads import LeadStage
from api.domain.crm.meetings import MeetingStatus
from api.domain.crm.money import from_minor
from api.domain.crm.tickets import TicketStatus
from api.infrastructure.persistence.base.department_scoped import DepartmentScopedRepository
from api.infrastructure.persistence.crm.leads import LeadDocument
from api.infrastructure.persistence.crm.meetings import MeetingDocument
from api.infrastructure.persistence.crm.tickets import TicketDocument

_OPEN_TICKETS = [TicketStatus.OPEN.value, TicketStatus.PENDING.value, TicketStatus.ON_HOLD.value]
_MARKED = [MeetingStatus.COMPLETED.value, MeetingStatus.NO_SHOW.value]


class MongoCrmFigures:
    """`CrmFiguresSource` adapter: four aggregations, each answered by the database."""

    def __init__(self) -> None:
        self._leads = DepartmentScopedRepository(LeadDocument)
        self._tickets = DepartmentScopedRepository(TicketDocument)
        self._meetings = DepartmentScopedRepository(MeetingDocument)

    async def figures(self, window: Window) -> CrmFigures:
        return CrmFigures(
            pipeline=await self._pipeline(),
            tickets=await self._tickets_sla(window),
            meetings=await self._attendance(window),
        )

    async def _pipeline(self) -> list[PipelineStage]:
        rows = await self._leads.aggregate([
            {"$group": {
                "_id": {"stage": "$stage", "currency": "$currency"},
                "count": {"$sum": 1}, "value": {"$sum": {"$ifNull": ["$value_minor", 0]}},
            }},
        ])  # fmt: skip
        counts: dict[str, int] = {}
        values: dict[str, list[MoneyTotal]] = {}
        for row in rows:
            stage, currency = row["_id"].get("stage"), row["_id"].get("currency")
            counts[stage] = counts.get(stage, 0) + int(row["count"])
            if currency:
                values.setdefault(stage, []).append(
                    MoneyTotal(currency=currency, value=from_minor(int(row["value"]), currency))
                )
        return [
            PipelineStage(
                stage=stage.value, count=counts.get(stage.value, 0),
                values=sorted(values.get(stage.value, []), key=lambda v: v.currency),
            )
            for stage in LeadStage
        ]  # fmt: skip

    async def _tickets_sla(self, window: Window) -> TicketSla:
        in_window = {"$gte": window.since, "$lt": window.until}
        open_rows = await self._tickets.aggregate([
            {"$match": {"status": {"$in": _OPEN_TICKETS}}},
            {"$group": {"_id": None, "open": {"$sum": 1},
                        "breached": {"$sum": {"$cond": ["$sla.breached", 1, 0]}}}},
        ])  # fmt: skip
        first = await self._tickets.aggregate(
            [{"$match": {"sla.first_response_breached_at": in_window}}, _COUNT]
        )
        resolution = await self._tickets.aggregate(
            [{"$match": {"sla.resolution_breached_at": in_window}}, _COUNT]
        )
        totals = open_rows[0] if open_rows else {}
        return TicketSla(
            open=int(totals.get("open", 0)),
            open_breached=int(totals.get("breached", 0)),
            first_response_breaches=_counted(first),
            resolution_breaches=_counted(resolution),
        )

    async def _attendance(self, window: Window) -> MeetingAttendance:
        rows = await self._meetings.aggregate([
            {"$match": {"starts_at": {"$gte": window.since, "$lt": window.until},
                        "status": {"$in": _MARKED}}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ])  # fmt: skip
        found = {row["_id"]: int(row["n"]) for row in rows}
        completed = found.get(MeetingStatus.COMPLETED.value, 0)
        no_show = found.get(MeetingStatus.NO_SHOW.value, 0)
        marked = completed + no_show
        return MeetingAttendance(
            completed=completed,
            no_show=no_show,
            show_rate=round(completed / marked, 4) if marked else None,
        )


_COUNT: dict[str, Any] = {"$group": {"_id": None, "n": {"$sum": 1}}}


def _counted(rows: list[dict[str, Any]]) -> int:
    return int(rows[0]["n"]) if rows else 0
