"""What a merge gives the target (`_absorbed`): the target wins every conflict and says
so, ids move only where the target has none, tags and attributes stay within their
limits (the rest reported as dropped), and consent is never weakened."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.domain.messaging.contacts import Contact
from api.usecases.messaging.contact_rules import MAX_ATTRIBUTES, MAX_TAGS
from api.usecases.messaging.merge_contacts import _absorbed

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 2, 1, tzinfo=UTC)


def contact(id: str, **fields: Any) -> Contact:
    return Contact(id=id, created_at=T0, updated_at=T0, **fields)


def test_the_target_wins_and_the_rest_is_added() -> None:
    target = contact("t", name="Ann", email="a@x.io", tags=["vip"], attributes={"plan": "gold"},
                     channel_id="c1", bsuid="US.1", last_inbound_at=T0)  # fmt: skip
    source = contact("s", name="Annie", username="ann", language="it", tags=["vip", "new"],
                     attributes={"plan": "free", "city": "Rome"}, channel_id="c2",
                     opted_out=True, opted_out_at=T1, opt_out_source="keyword",
                     last_inbound_at=T1)  # fmt: skip
    released = {"phone": "+16505550001", "wa_id": "16505550001", "bsuid": "US.2"}

    changes, report = _absorbed(target, source, released)

    assert changes == {
        "phone": "+16505550001", "wa_id": "16505550001", "username": "ann", "language": "it",
        "tags": ["vip", "new"], "attributes": {"plan": "gold", "city": "Rome"},
        "opted_out": True, "opted_out_at": T1, "opt_out_source": "keyword",
        "last_inbound_at": T1,
    }  # fmt: skip
    assert report.identities == ["phone", "wa_id", "username"]
    assert sorted(report.kept_from_target) == ["attributes.plan", "bsuid", "name"]
    assert report.dropped == []


def test_an_opted_out_target_stays_so_and_limits_hold() -> None:
    target = contact("t", opted_out=True, opted_out_at=T0, opt_out_source="manual",
                     tags=[f"t{n}" for n in range(MAX_TAGS - 1)],
                     attributes={f"a{n}": n for n in range(MAX_ATTRIBUTES - 1)})  # fmt: skip
    source = contact("s", opted_out=False, tags=["x", "y"], attributes={"b1": 1, "b2": 2})

    changes, report = _absorbed(target, source, {})

    assert "opted_out" not in changes  # the target's opt-out (and its time) stays
    assert changes["tags"][-1] == "x" and len(changes["tags"]) == MAX_TAGS
    assert len(changes["attributes"]) == MAX_ATTRIBUTES and changes["attributes"]["b1"] == 1
    assert report.dropped == ["tags.y", "attributes.b2"]


def test_a_user_id_moves_only_to_a_target_without_one_on_another_channel() -> None:
    manual = contact("t", email="a@x.io")  # never wrote: takes the channel with the id
    source = contact("s", channel_id="c2")
    changes, report = _absorbed(manual, source, {"bsuid": "US.2"})
    assert changes == {"bsuid": "US.2", "channel_id": "c2"}
    assert report.identities == ["bsuid"]

    elsewhere = contact("t", channel_id="c1", phone="+16505550009")
    changes, report = _absorbed(elsewhere, source, {"bsuid": "US.2"})
    assert changes == {} and report.dropped == ["bsuid"] and report.kept_from_target == []
