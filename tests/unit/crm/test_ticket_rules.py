"""Ticket rules without a server: status moves, priority scaling, the SLA timers (paused,
resumed, recounted, reopened), what the SLA job watches and which breaches are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.domain.business_hours import BusinessHours
from api.domain.crm.tickets import (
    SlaTimer,
    Targets,
    Ticket,
    TicketPriority,
    TicketSla,
    TicketStateConflict,
    TicketStatus,
    check_transition,
    due_breaches,
    initial_sla,
    recomputed_sla,
    scaled,
    sla_after_status,
    watch_at,
)

S = TicketStatus
OPENED = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
OFFICE = BusinessHours.model_validate(
    {"timezone": "Europe/Berlin",
     "days": {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}}
)  # fmt: skip
TARGETS = Targets(first_response_minutes=60, resolution_minutes=480, business_hours=OFFICE)


def ticket(**fields: object) -> Ticket:
    base: dict[str, object] = {
        "id": "t1", "contact_id": "c1", "subject": "Help", "created_at": OPENED,
        "updated_at": OPENED, "sla": initial_sla(TARGETS, TicketPriority.NORMAL, OPENED),
    }  # fmt: skip
    return Ticket.model_validate({**base, **fields})


ALLOWED = {
    (S.OPEN, S.PENDING), (S.OPEN, S.ON_HOLD), (S.OPEN, S.SOLVED), (S.OPEN, S.CLOSED),
    (S.PENDING, S.OPEN), (S.PENDING, S.ON_HOLD), (S.PENDING, S.SOLVED), (S.PENDING, S.CLOSED),
    (S.ON_HOLD, S.OPEN), (S.ON_HOLD, S.PENDING), (S.ON_HOLD, S.SOLVED), (S.ON_HOLD, S.CLOSED),
    (S.SOLVED, S.OPEN), (S.SOLVED, S.CLOSED),
}  # fmt: skip


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("to", list(S))
def test_status_moves(current: TicketStatus, to: TicketStatus) -> None:
    if current == to or (current, to) in ALLOWED:
        check_transition(current, to)
    else:
        with pytest.raises(TicketStateConflict) as raised:
            check_transition(current, to)
        assert raised.value.code == "ticket_state_conflict"


def test_priority_scales_targets_rounding_up() -> None:
    assert scaled(60, TicketPriority.LOW) == 90
    assert scaled(60, TicketPriority.NORMAL) == 60
    assert scaled(61, TicketPriority.HIGH) == 46
    assert scaled(61, TicketPriority.URGENT) == 31
    assert scaled(1, TicketPriority.URGENT) == 1
    assert scaled(None, TicketPriority.URGENT) is None


def test_initial_timers_count_business_hours() -> None:
    sla = initial_sla(TARGETS, TicketPriority.NORMAL, OPENED)
    assert sla.first_response_due == datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    assert sla.resolution_due == datetime(2026, 5, 5, 8, 0, tzinfo=UTC)  # Tue 10:00 Berlin
    urgent = initial_sla(TARGETS, TicketPriority.URGENT, OPENED)
    assert urgent.first_response_due == datetime(2026, 5, 4, 8, 30, tzinfo=UTC)
    assert initial_sla(Targets(), TicketPriority.NORMAL, OPENED) == TicketSla()


def test_pending_pauses_and_open_resumes_the_resolution_timer() -> None:
    open_ticket = ticket()
    at = OPENED + timedelta(hours=2)  # Monday 12:00 Berlin: 360 open minutes left
    paused = sla_after_status(open_ticket, S.PENDING, TARGETS, at)
    assert paused.resolution_due is None and paused.resolution_paused_minutes == 360
    # Back to open on Wednesday 09:00 Berlin: 360 minutes later is 15:00 Berlin.
    back = datetime(2026, 5, 6, 7, 0, tzinfo=UTC)
    waiting = ticket(status=S.PENDING, sla=paused)
    resumed = sla_after_status(waiting, S.OPEN, TARGETS, back)
    assert resumed.resolution_due == datetime(2026, 5, 6, 13, 0, tzinfo=UTC)
    assert resumed.resolution_paused_minutes is None
    # Pending to on hold keeps it paused.
    assert sla_after_status(waiting, S.ON_HOLD, TARGETS, back) == paused


def test_a_breached_resolution_timer_is_not_paused() -> None:
    breached = ticket().sla.model_copy(update={"resolution_breached_at": OPENED})
    after = sla_after_status(ticket(sla=breached), S.PENDING, TARGETS, OPENED)
    assert after.resolution_paused_minutes is None and after.resolution_due is not None


def test_reopening_a_solved_ticket_starts_a_fresh_resolution_period() -> None:
    solved = ticket(status=S.SOLVED, sla=ticket().sla.model_copy(
        update={"resolution_breached_at": OPENED}))  # fmt: skip
    reopened_at = datetime(2026, 5, 7, 7, 0, tzinfo=UTC)  # Thursday 09:00 Berlin
    sla = sla_after_status(solved, S.OPEN, TARGETS, reopened_at)
    assert sla.resolution_due == datetime(2026, 5, 7, 15, 0, tzinfo=UTC)
    assert sla.resolution_breached_at is None


def test_a_new_priority_recounts_from_the_opening() -> None:
    urgent = ticket(priority=TicketPriority.URGENT)
    sla = recomputed_sla(urgent, TARGETS, OPENED + timedelta(minutes=5))
    assert sla.first_response_due == datetime(2026, 5, 4, 8, 30, tzinfo=UTC)
    assert sla.resolution_due == datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    # Responded already: the first response timer stays as it was.
    responded = ticket(priority=TicketPriority.URGENT, first_responded_at=OPENED)
    kept = recomputed_sla(responded, TARGETS, OPENED)
    assert kept.first_response_due == ticket().sla.first_response_due
    # Waiting: the resolution timer stays paused with what the new target leaves.
    waiting = ticket(status=S.ON_HOLD, priority=TicketPriority.URGENT)
    paused = recomputed_sla(waiting, TARGETS, OPENED + timedelta(hours=1))
    assert paused.resolution_due is None and paused.resolution_paused_minutes == 180


def test_what_the_job_watches() -> None:
    fresh = ticket()
    assert watch_at(fresh) == fresh.sla.first_response_due
    responded = ticket(first_responded_at=OPENED + timedelta(minutes=10))
    assert watch_at(responded) == fresh.sla.resolution_due
    late = ticket(first_responded_at=OPENED + timedelta(hours=5))  # after its due
    assert watch_at(late) == fresh.sla.first_response_due
    assert watch_at(ticket(status=S.SOLVED)) is None
    paused = ticket(status=S.PENDING, first_responded_at=OPENED,
                    sla=TicketSla(resolution_paused_minutes=10))  # fmt: skip
    assert watch_at(paused) is None
    # Linked to a conversation and unanswered: looked at for a reply there, at once at
    # first (no timer at all), then when the job says.
    linked = ticket(conversation_id="v1", sla=TicketSla())
    assert watch_at(linked) == OPENED
    later = OPENED + timedelta(minutes=5)
    assert watch_at(linked, recheck_at=later) == later
    assert watch_at(ticket(conversation_id="v1"), recheck_at=later) == later
    assert watch_at(linked.model_copy(update={"first_responded_at": OPENED})) is None


def test_which_breaches_are_due() -> None:
    fresh = ticket()
    assert due_breaches(fresh, OPENED + timedelta(minutes=59)) == []
    first_due = fresh.sla.first_response_due
    assert first_due is not None
    assert due_breaches(fresh, first_due) == [(SlaTimer.FIRST_RESPONSE, first_due)]
    late_day = datetime(2026, 5, 6, 0, 0, tzinfo=UTC)
    assert [t for t, _ in due_breaches(fresh, late_day)] == [
        SlaTimer.FIRST_RESPONSE, SlaTimer.RESOLUTION]  # fmt: skip
    in_time = ticket(first_responded_at=OPENED + timedelta(minutes=30))
    assert [t for t, _ in due_breaches(in_time, late_day)] == [SlaTimer.RESOLUTION]
    too_late = ticket(first_responded_at=OPENED + timedelta(minutes=90))
    assert SlaTimer.FIRST_RESPONSE in [t for t, _ in due_breaches(too_late, late_day)]
    pending = ticket(status=S.PENDING)
    assert [t for t, _ in due_breaches(pending, late_day)] == [SlaTimer.FIRST_RESPONSE]
    recorded = ticket(sla=fresh.sla.model_copy(update={"first_response_breached_at": first_due}))
    assert [t for t, _ in due_breaches(recorded, late_day)] == [SlaTimer.RESOLUTION]
    assert recorded.sla.breached and not fresh.sla.breached
