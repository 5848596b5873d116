"""Contacts (`/api/v1/contacts`) and segments (`/api/v1/segments`): the customers a
tenant talks to, their consent, and saved filters over them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from api.domain.identity.auth import Principal
from api.domain.messaging.channels import ChannelType
from api.domain.permissions import Permission
from api.interfaces.http.auth import require
from api.interfaces.http.deps import Inject
from api.interfaces.http.problems import problem_responses
from api.interfaces.http.schemas.contacts import (
    ConsentIn,
    ContactErasureOut,
    ContactIn,
    ContactMergeIn,
    ContactMergeOut,
    ContactOut,
    ContactPageOut,
    ContactPatchIn,
    ContactStatsOut,
    MergeCandidatesOut,
    SegmentIn,
    SegmentOut,
    SegmentPageOut,
    SegmentPatchIn,
    SegmentPreviewOut,
)
from api.interfaces.http.schemas.paging import PagingQuery
from api.usecases.messaging.contact_erasure import EraseContact
from api.usecases.messaging.inbox_reads import MAX_PAGE
from api.usecases.messaging.manage_contacts import (
    ChangeContactConsent,
    CreateContact,
    DeleteContact,
    GetContact,
    GetContactStats,
    ListContacts,
    UpdateContact,
)
from api.usecases.messaging.manage_segments import (
    CreateSegment,
    DeleteSegment,
    GetSegment,
    ListSegments,
    PreviewSegment,
    UpdateSegment,
)
from api.usecases.messaging.merge_contacts import ListMergeCandidates, MergeContacts

contacts = APIRouter(prefix="/contacts", tags=["contacts"])
segments = APIRouter(prefix="/segments", tags=["contacts"])

Reader = Annotated[Principal, require(Permission.CONTACTS_READ)]
Writer = Annotated[Principal, require(Permission.CONTACTS_WRITE)]
Eraser = Annotated[Principal, require(Permission.CONTACTS_ERASE)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page (at most 100).")]
RULES = (
    " Phone numbers are read with `phonenumbers` (a national number in the company "
    "profile's `default_country`) and kept in E.164: an invalid one is 422 "
    "`invalid_phone`; one another live contact has is 409 `duplicate_contact` with "
    "`existing_id`. Tags are trimmed and lower-cased (1-50 characters, at most 50); "
    "attributes are at most 50, keys `[A-Za-z_][A-Za-z0-9_]{0,63}`, values strings (at "
    "most 500 characters), numbers or booleans. Audited."
)


@contacts.get(
    "",
    summary="List contacts",
    description=(
        "Needs `contacts:read`. Live contacts, newest first, by cursor. `q` searches the "
        "name and email (case-insensitive) and the phone number (its digits); `tag`, "
        "`opted_out`, `channel_type` (reachable on that kind of channel: the contact wrote "
        "on one, or was merged with one that did) and `segment_id` (that segment's filter; "
        "another tenant's is 404) narrow the list. A cursor this list did not give is 422."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def list_contacts(
    principal: Reader,
    use_case: Annotated[ListContacts, Inject(ListContacts)],
    q: Annotated[str | None, Query(max_length=100, description="Search text")] = None,
    tag: Annotated[str | None, Query(max_length=50, description="Only with this tag")] = None,
    segment_id: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only in this segment")
    ] = None,
    opted_out: Annotated[bool | None, Query(description="Only opted out, or only not")] = None,
    channel_type: Annotated[
        ChannelType | None, Query(description="Only reachable on this kind of channel")
    ] = None,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=200, description="`next_cursor` of before")
    ] = None,
    limit: Limit = 20,
) -> ContactPageOut:
    page = await use_case.execute(principal, q=q, tag=tag, opted_out=opted_out,
                                  channel_type=channel_type, segment_id=segment_id,
                                  cursor=cursor, limit=limit)  # fmt: skip
    return ContactPageOut.of(page)


@contacts.post(
    "",
    status_code=201,
    summary="Create a contact",
    description=(
        "Needs `contacts:write`. A phone number or an email address is required; "
        "`source` is `manual` (default) or `api`." + RULES
    ),
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_contact(
    body: Annotated[ContactIn, Body()],
    principal: Writer,
    use_case: Annotated[CreateContact, Inject(CreateContact)],
) -> ContactOut:
    return ContactOut.of(await use_case.execute(principal, body))


@contacts.get(
    "/stats",
    summary="Contact stats",
    description=(
        "Needs `contacts:read`. Live contacts: the total, how many opted out, how many by "
        "source and by tag (the 100 most used)."
    ),
    responses=problem_responses(401, 403, 503),
)
async def contact_stats(
    principal: Reader,
    use_case: Annotated[GetContactStats, Inject(GetContactStats)],
) -> ContactStatsOut:
    return ContactStatsOut.of(await use_case.execute(principal))


@contacts.get(
    "/{contact_id}",
    summary="Read a contact",
    description=(
        "Needs `contacts:read`. A deleted or another tenant's contact is 404; one merged "
        "into another is 404 `contact_merged` with `merged_into`, the contact it lives on "
        "as (read that one instead)."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def get_contact(
    contact_id: str,
    principal: Reader,
    use_case: Annotated[GetContact, Inject(GetContact)],
) -> ContactOut:
    return ContactOut.of(await use_case.execute(principal, contact_id))


@contacts.patch(
    "/{contact_id}",
    summary="Change a contact",
    description=(
        "Needs `contacts:write`. Only the fields sent change and null clears one; "
        "`attributes` merge (null removes a key), `tags` replace. A new number drops the "
        "WhatsApp id learnt for the old one." + RULES
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_contact(
    contact_id: str,
    body: Annotated[ContactPatchIn, Body()],
    principal: Writer,
    use_case: Annotated[UpdateContact, Inject(UpdateContact)],
) -> ContactOut:
    return ContactOut.of(await use_case.execute(principal, contact_id, body))


@contacts.delete(
    "/{contact_id}",
    status_code=204,
    summary="Delete a contact (soft)",
    description=(
        "Needs `contacts:write`. The contact leaves lists, stats, segments and audiences; "
        "its conversations and messages stay. Its phone number and WhatsApp ids are "
        "released: the number can be a new contact, and the customer writing again "
        "becomes a new contact. Audited as `contact.deleted`."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def delete_contact(
    contact_id: str,
    principal: Writer,
    use_case: Annotated[DeleteContact, Inject(DeleteContact)],
) -> Response:
    await use_case.execute(principal, contact_id)
    return Response(status_code=204)


@contacts.post(
    "/{contact_id}/erase",
    summary="Erase a contact's personal data for good",
    description=(
        "Needs `contacts:erase` (owners and admins; not agents). The right to erasure, on "
        "every channel: the contact's name, phone number, WhatsApp ids, username, email, "
        "language, attributes and tags are erased and the contact is deleted; every "
        "channel identity is forgotten (writing again, the person is a new contact); in "
        "their conversations (which stay) the contact summary is blanked and every "
        "message they sent loses its text, content and file link (`content: "
        '{"erased": true}`), one stored while the erasure runs too; the files they sent '
        "are deleted from the storage; their "
        "campaign recipient rows keep status and times but lose address, name and values "
        "(rows still pending are skipped as `deleted`); the raw webhook deliveries naming "
        "them (by any number or id they have or had) lose their body, one still being "
        "processed as soon as its processing ends; every contact merged into this one is "
        "erased with it. The business's own messages, CRM records (leads, tickets, "
        "meetings) and the audit log stay.\n\n"
        "Works on a live, deleted or merged contact, once: an erased contact is 404 from "
        "then on, as is another tenant's. A department-limited user is 403 "
        "`erasure_outside_departments` when a conversation, lead, ticket, meeting or "
        "callback request of the contact is outside their departments. A failure part-way "
        "(503) erases the contact itself last, so sending the request again completes it. "
        "Audited as `contact.erased` (counts, no personal data)."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def erase_contact(
    contact_id: str,
    principal: Eraser,
    use_case: Annotated[EraseContact, Inject(EraseContact)],
) -> ContactErasureOut:
    return ContactErasureOut.of(await use_case.execute(principal, contact_id))


@contacts.get(
    "/{contact_id}/merge-candidates",
    summary="Contacts to merge with this one",
    description=(
        "Needs `contacts:read`. Other live contacts of the tenant with this contact's "
        "phone number (E.164, or as a WhatsApp id) or email address (any case), newest "
        "first, at most 20, each with `matched_on`. An agent may merge any two contacts; "
        "these are suggestions."
    ),
    responses=problem_responses(401, 403, 404, 503),
)
async def merge_candidates(
    contact_id: str,
    principal: Reader,
    use_case: Annotated[ListMergeCandidates, Inject(ListMergeCandidates)],
) -> MergeCandidatesOut:
    return MergeCandidatesOut.of(await use_case.execute(principal, contact_id))


@contacts.post(
    "/{contact_id}/merge",
    summary="Merge another contact into this one",
    description=(
        "Needs `contacts:write`. One customer known as two contacts (met on two channels, "
        "or by hand and on a channel) becomes this one (the target). Everything of "
        "`source_contact_id` moves here: its Telegram, Messenger and Instagram user ids "
        "(the customer's next message there reaches this contact), conversations (and "
        "their messages), leads, tickets, meetings and callback requests; tags are added; "
        "attributes are added "
        "and **the target wins a conflict** (as for phone, WhatsApp ids, username, email, "
        "name and language, which move only where the target has none); every kept value "
        "is listed in `kept_from_target`. The source's channels join the target's, and the "
        "target is opted out if either was (consent is never weakened). A source "
        "conversation unresolved on a channel where the target has one too is moved and "
        "resolved. Imports and exports already made, and campaign runs' recipients, stay "
        "as they were. The source is then deleted: reading it is 404 `contact_merged` with "
        "`merged_into`.\n\n"
        "Merging a contact into itself is 422; a source already merged here is 409 "
        "`already_merged`; a merge of either contact under way is 409 `merge_in_progress` "
        "(of two concurrent merges of one pair, one succeeds). A merge that stopped "
        "half-way is completed by sending it again (after two minutes when the server "
        "died). Another tenant's contact is 404. A department-limited user is 403 "
        "`merge_outside_departments` when any conversation, lead, ticket, meeting or "
        "callback request of the source is outside their departments. Audited as "
        "`contact.merged`; agents get `conversation.updated` for every moved conversation."
    ),
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def merge_contact(
    contact_id: str,
    body: Annotated[ContactMergeIn, Body()],
    principal: Writer,
    use_case: Annotated[MergeContacts, Inject(MergeContacts)],
) -> ContactMergeOut:
    return ContactMergeOut.of(await use_case.execute(principal, contact_id,
                                                     body.source_contact_id))  # fmt: skip


CONSENT_NOTE = (
    " Records the time and the source (`manual` by default, or `api`); a contact already "
    "so keeps its first time and source. Audited as `contact.opted_out` / "
    "`contact.opted_in`. Customers also opt out themselves: a text that is exactly STOP "
    "or one of the profile's `opt_out_keywords` (source `keyword`), or Meta's marketing "
    "opt-out (`user_preferences`, error 131050; source `provider`)."
)


@contacts.post(
    "/{contact_id}/opt-out",
    summary="Opt a contact out",
    description="Needs `contacts:write`. No more marketing to this contact." + CONSENT_NOTE,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def opt_out(
    contact_id: str,
    principal: Writer,
    use_case: Annotated[ChangeContactConsent, Inject(ChangeContactConsent)],
    body: Annotated[ConsentIn | None, Body()] = None,
) -> ContactOut:
    source = (body or ConsentIn()).source
    return ContactOut.of(
        await use_case.execute(principal, contact_id, opted_out=True, source=source)
    )


@contacts.post(
    "/{contact_id}/opt-in",
    summary="Opt a contact back in",
    description="Needs `contacts:write`. The customer agreed again." + CONSENT_NOTE,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def opt_in(
    contact_id: str,
    principal: Writer,
    use_case: Annotated[ChangeContactConsent, Inject(ChangeContactConsent)],
    body: Annotated[ConsentIn | None, Body()] = None,
) -> ContactOut:
    source = (body or ConsentIn()).source
    return ContactOut.of(
        await use_case.execute(principal, contact_id, opted_out=False, source=source)
    )


SEGMENT_RULES = (
    " A name is 1-100 characters and unique in the tenant (409). Filter: `tags_any`, "
    "`tags_all` (at most 20 each), `attributes` (equality, at most 20), `language`, "
    "`opted_out` (false by default; null for both), `created_after`, "
    "`last_inbound_after`. Audited."
)


@segments.get(
    "",
    summary="List segments",
    description="Needs `contacts:read`. By name.",
    responses=problem_responses(401, 403, 422, 503),
)
async def list_segments(
    principal: Reader,
    paging: PagingQuery,
    use_case: Annotated[ListSegments, Inject(ListSegments)],
) -> SegmentPageOut:
    items, total = await use_case.execute(principal, page=paging.page,
                                          page_size=paging.page_size)  # fmt: skip
    return SegmentPageOut(items=[SegmentOut.of(s) for s in items], total=total,
                          page=paging.page, page_size=paging.page_size)  # fmt: skip


@segments.post(
    "",
    status_code=201,
    summary="Create a segment",
    description="Needs `contacts:write`." + SEGMENT_RULES,
    responses=problem_responses(401, 403, 409, 422, 503),
)
async def create_segment(
    body: Annotated[SegmentIn, Body()],
    principal: Writer,
    use_case: Annotated[CreateSegment, Inject(CreateSegment)],
) -> SegmentOut:
    return SegmentOut.of(await use_case.execute(principal, body))


@segments.get(
    "/{segment_id}",
    summary="Read a segment",
    description="Needs `contacts:read`. Another tenant's segment is 404.",
    responses=problem_responses(401, 403, 404, 503),
)
async def get_segment(
    segment_id: str,
    principal: Reader,
    use_case: Annotated[GetSegment, Inject(GetSegment)],
) -> SegmentOut:
    return SegmentOut.of(await use_case.execute(principal, segment_id))


@segments.patch(
    "/{segment_id}",
    summary="Change a segment",
    description="Needs `contacts:write`. A `filter` sent replaces the filter." + SEGMENT_RULES,
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def update_segment(
    segment_id: str,
    body: Annotated[SegmentPatchIn, Body()],
    principal: Writer,
    use_case: Annotated[UpdateSegment, Inject(UpdateSegment)],
) -> SegmentOut:
    return SegmentOut.of(await use_case.execute(principal, segment_id, body))


@segments.delete(
    "/{segment_id}",
    status_code=204,
    summary="Delete a segment",
    description="Needs `contacts:write`. The contacts stay. Audited as `segment.deleted`.",
    responses=problem_responses(401, 403, 404, 503),
)
async def delete_segment(
    segment_id: str,
    principal: Writer,
    use_case: Annotated[DeleteSegment, Inject(DeleteSegment)],
) -> Response:
    await use_case.execute(principal, segment_id)
    return Response(status_code=204)


@segments.get(
    "/{segment_id}/preview",
    summary="Preview a segment",
    description=(
        "Needs `contacts:read`. How many live contacts the segment holds now, and the "
        "newest `limit` of them (the same filter as `GET /contacts?segment_id=`)."
    ),
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def preview_segment(
    segment_id: str,
    principal: Reader,
    use_case: Annotated[PreviewSegment, Inject(PreviewSegment)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Contacts shown")] = 10,
) -> SegmentPreviewOut:
    return SegmentPreviewOut.of(await use_case.execute(principal, segment_id, limit))
