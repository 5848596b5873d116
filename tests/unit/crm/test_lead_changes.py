"""What a lead change becomes: the stored changes and their history entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.domain.crm.leads import Lead, LeadStage, LeadStageConflict
from api.domain.crm.money import CurrencyRequired, MoneyTooPrecise
from api.usecases.crm.lead_rules import LeadFields
from api.usecases.crm.leads import history_of, plan_changes

AT = datetime(2026, 5, 4, 10, tzinfo=UTC)


def lead(**fields: object) -> Lead:
    base: dict[str, object] = {"id": "l1", "contact_id": "c1", "title": "Deal",
                               "created_at": AT, "updated_at": AT}  # fmt: skip
    return Lead(**{**base, **fields})


def test_only_the_fields_sent_and_different_change() -> None:
    current = lead(notes="x", owner_id="u1")
    changes = plan_changes(current, LeadFields(title=" Deal ", notes="y", owner_id=None))
    assert changes == {"notes": "y", "owner_id": None}
    entries = history_of(current, changes, "actor", AT)
    assert [(e.field, e.from_value, e.to_value, e.actor_id) for e in entries] == [
        ("notes", "x", "y", "actor"), ("owner_id", "u1", None, "actor"),
    ]  # fmt: skip


def test_a_stage_move_is_checked_against_the_current_stage() -> None:
    assert plan_changes(lead(), LeadFields(stage=LeadStage.CONTACTED)) == {
        "stage": LeadStage.CONTACTED
    }
    with pytest.raises(LeadStageConflict):
        plan_changes(lead(), LeadFields(stage=LeadStage.WON))
    assert plan_changes(lead(stage=LeadStage.WON), LeadFields(stage=LeadStage.WON)) == {}


def test_the_amount_is_rechecked_against_a_new_currency() -> None:
    current = lead(value_minor=1050, currency="EUR")
    with pytest.raises(MoneyTooPrecise):
        plan_changes(current, LeadFields(currency="JPY"))
    changes = plan_changes(current, LeadFields(currency="KWD"))
    assert changes == {"value_minor": 10500, "currency": "KWD"}
    [entry] = history_of(current, changes, "actor", AT)
    assert (entry.field, entry.from_value, entry.to_value) == ("value", "10.50 EUR", "10.500 KWD")


def test_an_amount_comes_with_its_currency_and_both_clear_together() -> None:
    with pytest.raises(CurrencyRequired):
        plan_changes(lead(), LeadFields(value="10"))
    with pytest.raises(CurrencyRequired):
        plan_changes(lead(value_minor=1, currency="EUR"), LeadFields(currency=None))
    current = lead(value_minor=1, currency="EUR")
    changes = plan_changes(current, LeadFields(value=None, currency=None))
    assert changes == {"value_minor": None, "currency": None}
    [entry] = history_of(current, changes, "actor", AT)
    assert (entry.from_value, entry.to_value) == ("0.01 EUR", None)


def test_long_notes_are_cut_in_the_history() -> None:
    current = lead()
    changes = plan_changes(current, LeadFields(notes="n" * 1000))
    [entry] = history_of(current, changes, "actor", AT)
    assert entry.to_value is not None and len(entry.to_value) == 200
    assert entry.to_value.endswith("…")
