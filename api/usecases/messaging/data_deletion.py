"""Instagram's data deletion callback: a person asked Meta to have the business delete
their data; Meta posts a `signed_request` naming them; Parley erases what it holds about
them in the channel's tenant and answers where to follow it up."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from pydantic import BaseModel

from api.domain.errors import Forbidden, MalformedRequest, NotFound
from api.domain.identity.auth import SecretBox
from api.domain.messaging.channels import Channel, ChannelType
from api.domain.messaging.contacts import (
    ChannelUserIdentity,
    ContactIdentityRepository,
    ContactRepository,
)
from api.domain.messaging.data_deletion import (
    DataDeletionRequest,
    DataDeletionRequests,
    DeletionStatus,
)
from api.domain.messaging.webhook_subjects import identity_subject
from api.domain.messaging.webhooks import ChannelLookup, WebhookEventStore
from api.domain.tenancy import TenantId, current_tenant, tenant_context
from api.usecases.kernel.clock import stored_now
from api.usecases.messaging.contact_erasure import ContactErasure
from api.usecases.messaging.rules import ChannelPolicy
from api.usecases.messaging.signed_request import (
    SignedRequestForged,
    SignedRequestMalformed,
    parse_signed_request,
)
from api.usecases.messaging.webhook_rules import WebhookPolicy, channel_secret, named_channel

REQUEST_NOT_FOUND = "There is no such data deletion request."


class DeletionConfirmation(BaseModel):
    """What Meta shows the person: where to follow the request, and its code."""

    url: str
    confirmation_code: str


class DeletionStatusView(BaseModel):
    confirmation_code: str
    status: DeletionStatus
    requested_at: datetime
    completed_at: datetime | None
    contacts_erased: int
    messages_erased: int


def status_url(policy: ChannelPolicy, channel_id: str, code: str) -> str:
    return f"{policy.webhook_base_url}/instagram/{channel_id}/data-deletion/{code}"


class HandleDataDeletion:
    """Rules: the channel named by the URL must be a connected Instagram channel (else
    `NotFound`). The `signed_request` must be of Meta's form (`MalformedRequest`, 400 when
    missing or not) and signed with the channel's app secret (else `Forbidden`). Then, in
    the channel's tenant, the contact of the payload's `user_id` on this channel is erased
    (name, ids, number, username, email, attributes, tags; deleted), its conversations'
    contact summary blanked, and the text, content and file link of every message it sent
    removed; a request is recorded with a new confirmation code (only a digest of the user
    id is kept) and the answer is Meta's `{url, confirmation_code}`, `url` the public
    status page of the request. A person Parley has no contact for gets a code too (the
    raw webhook deliveries naming the user id are erased all the same). The erasure is
    `ContactErasure`'s (the files they sent and the raw deliveries naming them go too).
    Audited: `contact.erased` (no personal data in the entry).
    """

    def __init__(
        self,
        lookup: ChannelLookup,
        box: SecretBox,
        webhooks: WebhookPolicy,
        channels: ChannelPolicy,
        contacts: ContactRepository,
        identities: ContactIdentityRepository,
        erasure: ContactErasure,
        deliveries: WebhookEventStore,
        requests: DataDeletionRequests,
    ) -> None:
        self._lookup = lookup
        self._box = box
        self._webhooks = webhooks
        self._channels = channels
        self._contacts = contacts
        self._identities = identities
        self._erasure = erasure
        self._deliveries = deliveries
        self._requests = requests

    async def execute(self, channel_id: str, signed_request: str | None) -> DeletionConfirmation:
        channel = await named_channel(self._lookup, ChannelType.INSTAGRAM, channel_id)
        if not signed_request:
            raise MalformedRequest("The signed_request form field is missing.")
        secret = channel_secret(self._box, channel, self._webhooks)
        if secret is None:
            raise Forbidden("The channel has no app secret to check the request with.")
        try:
            payload = parse_signed_request(signed_request, secret)
        except SignedRequestMalformed as exc:
            raise MalformedRequest(f"The signed_request is not valid: {exc}.") from None
        except SignedRequestForged:
            raise Forbidden("The signed_request's signature is not valid.") from None
        user_id = payload.get("user_id")
        if not isinstance(user_id, str | int) or not str(user_id).strip():
            raise MalformedRequest("The signed_request names no user_id.")
        assert channel.tenant_id is not None  # noqa: S101 - a stored channel
        with tenant_context(TenantId(channel.tenant_id)):
            request = await self._erase(channel, str(user_id).strip())
        return DeletionConfirmation(
            url=status_url(self._channels, channel_id, request.confirmation_code),
            confirmation_code=request.confirmation_code,
        )

    async def _erase(self, channel: Channel, user_id: str) -> DataDeletionRequest:
        assert channel.id is not None  # noqa: S101 - a stored channel
        requested_at = stored_now()
        contacts = messages = 0
        identity = ChannelUserIdentity(
            channel_type=channel.type, account_id=channel.account_id, user_id=user_id
        )
        contact_id = await self._identities.contact_id_for(identity)
        contact = await self._contacts.get(contact_id)
        if contact is not None and contact.id is not None and contact.erased_at is None:
            report = await self._erasure.erase(
                contact, actor_id=None,
                audit={"reason": "instagram_data_deletion", "channel_id": channel.id},
            )  # fmt: skip
            contacts, messages = 1, report.messages_erased
        await self._identities.forget_contact(contact_id)  # no trace of the user id is left
        # Deliveries naming a user id no contact holds (any more) are erased all the same.
        subject = identity_subject(current_tenant(), identity)
        await self._deliveries.erase_subjects({subject}, requested_at)
        return await self._requests.add(
            DataDeletionRequest(
                channel_id=channel.id,
                confirmation_code=secrets.token_hex(8),
                user_key=hashlib.sha256(user_id.encode()).hexdigest(),
                status=DeletionStatus.COMPLETED,
                contacts_erased=contacts,
                messages_erased=messages,
                requested_at=requested_at,
                completed_at=stored_now(),
            )
        )


class GetDataDeletionStatus:
    """The public status page of a deletion request (the code is the credential): an
    unknown channel or code is `NotFound`."""

    def __init__(self, lookup: ChannelLookup, requests: DataDeletionRequests) -> None:
        self._lookup = lookup
        self._requests = requests

    async def execute(self, channel_id: str, code: str) -> DeletionStatusView:
        channel = await named_channel(self._lookup, ChannelType.INSTAGRAM, channel_id)
        assert channel.tenant_id is not None  # noqa: S101 - a stored channel
        with tenant_context(TenantId(channel.tenant_id)):
            found = await self._requests.by_code(channel_id, code)
        if found is None:
            raise NotFound(REQUEST_NOT_FOUND)
        return DeletionStatusView(**found.model_dump(include=set(DeletionStatusView.model_fields)))
