"""Meetings over HTTP: created with local wall times (the meeting's zone or the tenant's),
naive times and bad input refused, the lifecycle (409 `meeting_state_conflict`), an
owner's overlapping meetings refused (409 `meeting_overlap`, also for concurrent
requests), filtered cursor paging, audit, 401/403, and tenant isolation on every route."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import punq

from tests.fakes.clock import FakeUtcClock
from tests.support.app import AppClient, assert_problem, use_clock
from tests.support.campaigns import add_contact
from tests.support.meetings import MEETINGS, NOON, at, create_meeting, meeting_body
from tests.support.people import audit_entries, create_role, role_id, signed_in, two_tenants

PROFILE = "/api/v1/tenant/profile"


async def test_a_meeting_is_created_with_its_local_times_and_audited(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    created = await create_meeting(
        client, owner, ann["id"],
        datetime(2030, 3, 4, 9, 0, tzinfo=UTC).astimezone(ZoneInfo("America/New_York")),
        timezone="Europe/Berlin", location="Room 4", reminders=[30, 1440, 30],
    )  # fmt: skip
    assert created["status"] == "proposed"
    assert created["owner_id"] == acme.owner.id
    assert created["starts_at"] == "2030-03-04T09:00:00Z"
    assert created["ends_at"] == "2030-03-04T09:30:00Z"
    assert created["local_timezone"] == "Europe/Berlin"
    assert created["starts_at_local"] == "2030-03-04T10:00:00+01:00"
    assert created["reminders"] == [1440, 30]
    assert created["schedule_version"] == 1
    read = await client.get(f"{MEETINGS}/{created['id']}", headers=owner)
    assert read.status_code == 200 and read.json() == created
    [entry] = await audit_entries(client, owner, action="meeting.created")
    assert entry["resource_id"] == created["id"]
    assert entry["actor_id"] == acme.owner.id

    # Without a zone of its own, the tenant's zone shows (after the summer change in NY).
    saved = await client.put(PROFILE, json={"timezone": "America/Sao_Paulo"}, headers=owner)
    assert saved.status_code == 200, saved.text
    plain = await create_meeting(client, owner, ann["id"], at(48))
    assert plain["timezone"] is None and plain["local_timezone"] == "America/Sao_Paulo"
    assert plain["starts_at_local"] == "2030-03-06T09:00:00-03:00"


async def test_bad_input_is_refused(client: AppClient) -> None:
    _, owner, _, beta_owner = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    theirs = await add_contact(client, beta_owner, name="Theirs", email="theirs@example.com")
    naive = meeting_body(ann["id"], NOON)
    naive["starts_at"] = "2030-03-04T12:00:00"
    assert_problem(await client.post(MEETINGS, json=naive, headers=owner), 422, "invalid_input")
    cases: list[tuple[dict[str, Any], str]] = [
        (meeting_body(ann["id"], NOON, minutes=-5), "invalid_meeting"),
        (meeting_body(ann["id"], NOON, minutes=0), "invalid_meeting"),
        (meeting_body(ann["id"], NOON, minutes=8 * 24 * 60), "invalid_meeting"),
        (meeting_body(ann["id"], NOON, timezone="Mars/Olympus"), "invalid_meeting"),
        (meeting_body(ann["id"], NOON, reminders=[-1]), "invalid_input"),
        (meeting_body(ann["id"], NOON, reminders=[1, 2, 3, 4, 5, 6]), "invalid_meeting"),
        (meeting_body(theirs["id"], NOON), "invalid_meeting"),  # another tenant's contact
        (meeting_body(ann["id"], NOON, owner_id="0123456789abcdef01234567"), "invalid_meeting"),
        (meeting_body(ann["id"], NOON, extra_field=1), "invalid_input"),
        ({"title": "no contact"}, "invalid_input"),
    ]
    for body, code in cases:
        assert_problem(await client.post(MEETINGS, json=body, headers=owner), 422, code)
    listed = await client.get(MEETINGS, params={"from": "2030-03-04T12:00:00"}, headers=owner)
    assert_problem(listed, 422, "invalid_input")
    assert_problem(await client.get(MEETINGS, params={"cursor": "nope"}, headers=owner), 422,
                   "invalid_input")  # fmt: skip
    assert (await client.get(MEETINGS, headers=owner)).json()["items"] == []


async def test_the_lifecycle_and_its_conflicts(
    client: AppClient, container: punq.Container
) -> None:
    _, owner, _, _ = await two_tenants(client)
    clock = FakeUtcClock(at(-1))
    use_clock(container, clock)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    meeting = await create_meeting(client, owner, ann["id"], NOON)
    url = f"{MEETINGS}/{meeting['id']}"

    early = await client.post(f"{url}/complete", headers=owner)
    assert_problem(early, 409, "meeting_state_conflict")  # proposed cannot complete
    confirmed = await client.post(f"{url}/confirm", headers=owner)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert_problem(
        await client.post(f"{url}/confirm", headers=owner), 409, "meeting_state_conflict"
    )
    not_yet = await client.post(f"{url}/no-show", headers=owner)
    body = assert_problem(not_yet, 409, "meeting_state_conflict")
    assert "started" in body["detail"]

    moved = await client.post(f"{url}/reschedule", json={
        "starts_at": at(2).isoformat(), "ends_at": at(3).isoformat(), "timezone": "Asia/Tokyo",
    }, headers=owner)  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "rescheduled" and moved.json()["schedule_version"] == 2
    assert moved.json()["starts_at_local"] == "2030-03-04T23:00:00+09:00"
    assert (await client.post(f"{url}/confirm", headers=owner)).json()["status"] == "confirmed"
    clock.advance(hours=3, minutes=1)  # the meeting started
    done = await client.post(f"{url}/complete", headers=owner)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    for action in ("confirm", "cancel", "no-show"):
        assert_problem(await client.post(f"{url}/{action}", headers=owner), 409,
                       "meeting_state_conflict")  # fmt: skip
    late = await client.post(f"{url}/reschedule", json={
        "starts_at": at(5).isoformat(), "ends_at": at(6).isoformat()}, headers=owner)  # fmt: skip
    assert_problem(late, 409, "meeting_state_conflict")
    assert_problem(await client.patch(url, json={"title": "New"}, headers=owner), 409,
                   "meeting_state_conflict")  # fmt: skip
    entries = await audit_entries(client, owner)
    actions = [e["action"] for e in entries if e["resource_id"] == meeting["id"]]
    assert sorted(actions) == ["meeting.completed", "meeting.confirmed", "meeting.confirmed",
                               "meeting.created", "meeting.rescheduled"]  # fmt: skip


async def test_an_owner_cannot_be_in_two_meetings_at_once(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    first = await create_meeting(client, owner, ann["id"], NOON, minutes=60)
    overlapping = meeting_body(ann["id"], at(0.5), minutes=60)
    assert_problem(await client.post(MEETINGS, json=overlapping, headers=owner), 409,
                   "meeting_overlap")  # fmt: skip
    # Back to back is fine; another owner at the same time too.
    await create_meeting(client, owner, ann["id"], at(1), minutes=30)
    colleague, _ = await signed_in(client, acme, owner, "col@acme.example.com", roles=["admin"])
    await create_meeting(client, owner, ann["id"], NOON, owner_id=colleague["id"])
    # Moving the colleague's meeting onto the owner: refused; rescheduling onto it too.
    second = await create_meeting(client, owner, ann["id"], at(3))
    onto = {"starts_at": at(0.75).isoformat(), "ends_at": at(1.25).isoformat()}
    moved = await client.post(f"{MEETINGS}/{second['id']}/reschedule", json=onto, headers=owner)
    assert_problem(moved, 409, "meeting_overlap")
    # A cancelled meeting frees its time.
    assert (await client.post(f"{MEETINGS}/{first['id']}/cancel", headers=owner)).status_code == 200
    await create_meeting(client, owner, ann["id"], at(0.25), minutes=30)


async def test_concurrent_creates_for_one_owner_and_time_let_exactly_one_win(
    client: AppClient,
) -> None:
    _, owner, _, _ = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    bodies = [meeting_body(ann["id"], at(i / 10), minutes=60) for i in range(6)]
    answers = await asyncio.gather(*(client.post(MEETINGS, json=b, headers=owner) for b in bodies))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409, 409, 409, 409, 409], [a.text for a in answers]
    listed = await client.get(MEETINGS, headers=owner)
    assert len(listed.json()["items"]) == 1


async def test_patch_changes_details_and_replans_reminders(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    bob = await add_contact(client, owner, name="Bob", email="bob@example.com")
    meeting = await create_meeting(client, owner, ann["id"], at(24), location="Room 1")
    url = f"{MEETINGS}/{meeting['id']}"
    changed = await client.patch(url, json={
        "title": "Contract signing", "contact_id": bob["id"], "location": None,
        "reminders": [60], "reminder_template": {"name": "meeting_reminder", "language": "en",
                                                 "body_parameters": ["contact_name", "title"]},
    }, headers=owner)  # fmt: skip
    assert changed.status_code == 200, changed.text
    found = changed.json()
    assert (found["title"], found["contact_id"], found["location"], found["reminders"]) == (
        "Contract signing",
        bob["id"],
        None,
        [60],
    )
    assert found["reminder_template"]["name"] == "meeting_reminder"
    [entry] = await audit_entries(client, owner, action="meeting.updated")
    assert entry["changes"]["title"] == {"from": "Quarterly review", "to": "Contract signing"}
    bad = await client.patch(url, json={"timezone": "Nowhere/Town"}, headers=owner)
    assert_problem(bad, 422, "invalid_meeting")
    blocked = await create_meeting(client, owner, ann["id"], at(30))
    colleague, _ = await signed_in(client, acme, owner, "col@acme.example.com", roles=["admin"])
    await create_meeting(client, owner, ann["id"], at(30), owner_id=colleague["id"])
    taken = await client.patch(f"{MEETINGS}/{blocked['id']}", json={"owner_id": colleague["id"]},
                               headers=owner)  # fmt: skip
    assert_problem(taken, 409, "meeting_overlap")


async def test_the_list_filters_and_pages_by_start(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    bob = await add_contact(client, owner, name="Bob", email="bob@example.com")
    made = [await create_meeting(client, owner, (ann if i % 2 else bob)["id"], at(5 - i))
            for i in range(5)]  # fmt: skip
    await client.post(f"{MEETINGS}/{made[0]['id']}/cancel", headers=owner)
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(MEETINGS, params=params, headers=owner)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [m["id"] for m in found] == [m["id"] for m in reversed(made)]

    async def ids(**params: Any) -> list[str]:
        page = await client.get(MEETINGS, params=params, headers=owner)
        assert page.status_code == 200, page.text
        return [m["id"] for m in page.json()["items"]]

    assert await ids(contact_id=ann["id"]) == [made[3]["id"], made[1]["id"]]
    assert await ids(status="cancelled") == [made[0]["id"]]
    assert await ids(owner_id=acme.owner.id, **{"from": at(2).isoformat(),
                     "to": at(4).isoformat()}) == [made[3]["id"], made[2]["id"]]  # fmt: skip
    assert await ids(owner_id="someone-else") == []
    assert await ids(lead_id="lead-1") == []


async def test_auth_and_permissions(client: AppClient) -> None:
    acme, owner, _, _ = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    meeting = await create_meeting(client, owner, ann["id"], NOON)
    url = f"{MEETINGS}/{meeting['id']}"
    routes = [("GET", MEETINGS, None), ("POST", MEETINGS, meeting_body(ann["id"], at(5))),
              ("GET", url, None), ("PATCH", url, {"title": "x"}),
              ("POST", f"{url}/reschedule", {"starts_at": at(6).isoformat(),
                                             "ends_at": at(7).isoformat()}),
              ("POST", f"{url}/confirm", None), ("POST", f"{url}/cancel", None),
              ("POST", f"{url}/complete", None), ("POST", f"{url}/no-show", None)]  # fmt: skip
    tenant_only = {"X-Tenant-ID": acme.tenant.id or ""}
    for method, path, body in routes:
        answer = await client.request(method, path, json=body, headers=tenant_only)
        assert_problem(answer, 401, "unauthorized")
    await create_role(client, owner, "inbox only", ["inbox:read"])
    _, nobody = await signed_in(client, acme, owner, "nobody@acme.example.com",
                                roles=["inbox only"])  # fmt: skip
    for method, path, body in routes:
        assert_problem(await client.request(method, path, json=body, headers=nobody), 403,
                       "forbidden")  # fmt: skip
    await create_role(client, owner, "crm reader", ["crm:read"])
    _, reader = await signed_in(client, acme, owner, "reader@acme.example.com",
                                roles=["crm reader"])  # fmt: skip
    assert (await client.get(url, headers=reader)).status_code == 200
    assert (await client.get(MEETINGS, headers=reader)).status_code == 200
    for method, path, body in routes[1:]:
        if method != "GET":
            assert_problem(await client.request(method, path, json=body, headers=reader), 403,
                           "forbidden")  # fmt: skip
    assert await role_id(client, owner, "crm reader")


async def test_another_tenants_meetings_are_not_found(client: AppClient) -> None:
    _, owner, _, beta_owner = await two_tenants(client)
    ann = await add_contact(client, owner, name="Ann", email="ann@example.com")
    theirs = await add_contact(client, beta_owner, name="Theirs", email="theirs@example.com")
    meeting = await create_meeting(client, owner, ann["id"], NOON)
    url = f"{MEETINGS}/{meeting['id']}"
    for method, path, body in [
        ("GET", url, None), ("PATCH", url, {"title": "Mine now"}),
        ("POST", f"{url}/reschedule", {"starts_at": at(6).isoformat(),
                                       "ends_at": at(7).isoformat()}),
        ("POST", f"{url}/confirm", None), ("POST", f"{url}/cancel", None),
        ("POST", f"{url}/complete", None), ("POST", f"{url}/no-show", None),
        ("GET", f"{MEETINGS}/not-an-id", None),
    ]:  # fmt: skip
        assert_problem(await client.request(method, path, json=body, headers=beta_owner), 404,
                       "not_found")  # fmt: skip
    assert (await client.get(MEETINGS, headers=beta_owner)).json()["items"] == []
    # The same owner id and time in the other tenant: no overlap across tenants.
    await create_meeting(client, beta_owner, theirs["id"], NOON)
    mine = await client.get(url, headers=owner)
    assert mine.json()["title"] == "Quarterly review" and mine.json()["status"] == "proposed"
