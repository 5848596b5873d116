"""The lead stage machine: every allowed move passes, every other one is 409."""

from __future__ import annotations

import itertools

import pytest

from api.domain.crm.leads import TRANSITIONS, LeadStage, LeadStageConflict, check_transition

S = LeadStage
ALLOWED = {
    (S.NEW, S.CONTACTED), (S.NEW, S.QUALIFIED), (S.NEW, S.LOST),
    (S.CONTACTED, S.QUALIFIED), (S.CONTACTED, S.LOST),
    (S.QUALIFIED, S.PROPOSAL), (S.QUALIFIED, S.LOST),
    (S.PROPOSAL, S.WON), (S.PROPOSAL, S.LOST),
    (S.LOST, S.NEW),
}  # fmt: skip


def test_the_machine_is_exactly_the_documented_one() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
    assert set(TRANSITIONS) == set(LeadStage)


@pytest.mark.parametrize(("current", "wanted"), sorted(ALLOWED))
def test_allowed_moves_pass(current: LeadStage, wanted: LeadStage) -> None:
    check_transition(current, wanted)


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (a, b)
        for a, b in itertools.product(LeadStage, LeadStage)
        if a != b and (a, b) not in ALLOWED
    ],
)
def test_every_other_move_is_a_conflict(current: LeadStage, wanted: LeadStage) -> None:
    with pytest.raises(LeadStageConflict) as caught:
        check_transition(current, wanted)
    assert caught.value.code == "lead_stage_conflict"
    assert caught.value.extensions == {"stage": current.value}
    assert f"from {current.value} to {wanted.value}" in caught.value.detail


@pytest.mark.parametrize("stage", list(LeadStage))
def test_staying_put_is_no_move(stage: LeadStage) -> None:
    check_transition(stage, stage)


def test_won_is_final_and_lost_reopens() -> None:
    with pytest.raises(LeadStageConflict, match="none \\(it is final\\)"):
        check_transition(S.WON, S.LOST)
    check_transition(S.LOST, S.NEW)
