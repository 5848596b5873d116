"""Provider-neutral failures of a channel call, so that jobs and use cases decide what to
do (retry, mark the channel, fail the message) without knowing the provider.

    ChannelTransientFailure (TemporaryFailure)   a 5xx, a timeout, a dropped connection
    ├── ChannelRateLimited                       throughput or per-user limits; retry after
    └── ChannelOutcomeUnknown                    no answer to a request that may have arrived
    ChannelPermanentFailure (PermanentFailure)   refused for good: code, title, details
    ├── ChannelTokenInvalid                      the channel's credentials stopped working
    └── ChannelMediaRefused                      a file sent by `media_id` the provider
                                                 no longer knows (send the bytes again)
    ChannelCheckFailed (InvalidInput)            the provider refused the settings on connect
    GraphBaseUrlNotAllowed (InvalidInput)        a provider address the deployment forbids
    └── ApiBaseUrlNotAllowed                     (Telegram's Bot API base)
    TemplatesNotSupported (InvalidInput)         the channel's provider has no templates
    InvalidTemplate (InvalidInput)               a template breaks the provider's rules
    TemplateRejected (InvalidInput)              the provider refused a template call
    TemplateUnusable (InvalidInput)              a template that cannot be sent now:
    ├── TemplateUnknown                          the channel has none by that name/language
    ├── TemplateNotApproved                      the provider has not approved it
    └── TemplateInactive                         the tenant switched it off
    TemplateValuesInvalid (InvalidInput)         a send's variable values do not fit
    InvalidPhone (InvalidInput)                  a contact's number is not a valid number
    DuplicateContact (Conflict)                  a contact already has this number

And the inbox's own refusals: the conflicts `TeamNameTaken`, `AlreadyAssigned`,
`UnresolvedConversationExists`, `ConversationResolved` (409) and the invalid inputs
`InvalidAssignee`, `UnknownTeam`, `UnknownMembers`, `SnoozeNotInFuture` (422).
"""

from __future__ import annotations

from api.domain.errors import (
    Conflict,
    FieldProblem,
    InvalidInput,
    PermanentFailure,
    TemporaryFailure,
)


class ChannelTransientFailure(TemporaryFailure):
    """The provider failed in a way that may pass: retry with backoff."""

    code = "channel_transient_failure"
    title = "Channel temporarily failing"

    def __init__(self, detail: str | None = None, *, provider_code: int | None = None) -> None:
        super().__init__(detail)
        self.provider_code = provider_code


class ChannelRateLimited(ChannelTransientFailure):
    """Over a provider limit (throughput, too many messages to one user); retry after
    `retry_after` seconds at the earliest."""

    code = "channel_rate_limited"
    title = "Channel rate limited"

    def __init__(
        self, retry_after: float, detail: str | None = None, *, provider_code: int | None = None
    ) -> None:
        super().__init__(detail, provider_code=provider_code)
        self.retry_after = max(0.0, retry_after)


class ChannelOutcomeUnknown(ChannelTransientFailure):
    """The request left but no answer came (a read timeout, a connection lost after the
    request was written): the provider may have accepted it. A retry may send twice; a
    sender that must send at most once treats it as an unknown outcome."""

    code = "channel_outcome_unknown"
    title = "Channel outcome unknown"


class ChannelPermanentFailure(PermanentFailure):
    """The provider refused the call for good (window closed, undeliverable, opted out,
    unsupported type, bad parameter...): `provider_code`, `provider_title`, `details` are
    the provider's own, kept on the failed message."""

    code = "channel_permanent_failure"
    title = "Channel refused the request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        provider_code: int | None = None,
        provider_title: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.provider_code = provider_code
        self.provider_title = provider_title
        self.details = details


class ChannelTokenInvalid(ChannelPermanentFailure):
    """The channel's access token is expired, revoked or wrong: the channel needs new
    credentials (its status becomes `token_invalid`)."""

    code = "channel_token_invalid"
    title = "Channel token invalid"


class ChannelMediaRefused(ChannelPermanentFailure):
    """The provider refused a file sent by its `media_id` (unknown, expired, or of another
    kind): nothing was sent; the same message with the file's bytes may still go."""

    code = "channel_media_refused"
    title = "Channel refused the file id"


class ChannelCheckFailed(InvalidInput):
    """Connecting (or re-checking) a channel: the provider refused the credentials or
    could not be reached; `detail` carries the provider's message, never a secret."""

    code = "channel_check_failed"
    title = "Channel check failed"


class GraphBaseUrlNotAllowed(InvalidInput):
    """A channel named a provider API address the deployment does not allow (its token
    would be sent there)."""

    code = "graph_base_url_not_allowed"
    title = "Provider address not allowed"


class TemplatesNotSupported(InvalidInput):
    """A template call on a channel whose provider has no message templates (Telegram,
    Messenger, Instagram)."""

    code = "templates_not_supported"
    title = "Templates not supported by this channel"


class ApiBaseUrlNotAllowed(GraphBaseUrlNotAllowed):
    """A Telegram channel named a Bot API address the deployment does not allow."""

    code = "api_base_url_not_allowed"


class InvalidTemplate(InvalidInput):
    """A template the provider would refuse (name, category, components, examples): the
    field `errors` say where; nothing was submitted."""

    code = "invalid_template"
    title = "Invalid template"


class TemplateRejected(InvalidInput):
    """The provider refused to create or delete a template; `detail` carries its message,
    never a secret."""

    code = "template_rejected"
    title = "Template rejected by the provider"


class TemplateUnusable(InvalidInput):
    """A template that cannot be sent now (base of the three reasons below)."""

    code = "template_unusable"
    title = "Template cannot be used"


class TemplateUnknown(TemplateUnusable):
    """The channel has no stored template with this name and language (sync the channel's
    templates first)."""

    code = "template_unknown"
    title = "Unknown template"


class TemplateNotApproved(TemplateUnusable):
    """The provider has not approved the template (pending, rejected, paused, disabled,
    deleted): `status` says which."""

    code = "template_not_approved"
    title = "Template not approved"

    def __init__(self, status: str) -> None:
        super().__init__(f"The template is {status}, not APPROVED: it cannot be sent.")
        self.status = status

    @property
    def extensions(self) -> dict[str, str]:
        return {"template_status": self.status}


class TemplateInactive(TemplateUnusable):
    """The tenant deactivated the template (`POST /templates/{id}/deactivate`)."""

    code = "template_inactive"
    title = "Template inactive"


class TemplateValuesInvalid(InvalidInput):
    """A send's values for a template's variables: one missing (or empty), or one the
    template does not have; field `errors` name each by its `key`."""

    code = "template_values_invalid"
    title = "Template values invalid"


class InvalidPhone(InvalidInput):
    """A contact's phone number cannot be read as a valid number (a national number is
    read in the tenant's `default_country`)."""

    code = "invalid_phone"
    title = "Invalid phone number"

    def __init__(self, loc: tuple[str | int, ...] = ("body", "phone")) -> None:
        super().__init__(
            "The phone number is not valid: give it in international form (+…) or set the "
            "company profile's default_country for national numbers.",
            [FieldProblem(loc, "not a valid phone number")],
        )


class DuplicateContact(Conflict):
    """Another live contact of the tenant has this phone number: `existing_id` is it."""

    code = "duplicate_contact"
    title = "Duplicate contact"

    def __init__(self, existing_id: str) -> None:
        super().__init__("A contact with this phone number already exists.")
        self.existing_id = existing_id

    @property
    def extensions(self) -> dict[str, str]:
        return {"existing_id": self.existing_id}


class TeamNameTaken(Conflict):
    """Another team of the tenant has this name (names are compared without case)."""

    code = "team_name_taken"
    title = "Team name taken"


class AlreadyAssigned(Conflict):
    """A claim lost: the conversation is assigned to another agent already."""

    code = "already_assigned"
    title = "Already assigned"


class UnresolvedConversationExists(Conflict):
    """Reopening would give the contact two unresolved conversations on one channel: the
    newer one (opened by a later inbound message) is where the thread goes on."""

    code = "unresolved_conversation_exists"
    title = "The contact has another unresolved conversation"


class ConversationResolved(Conflict):
    """The action needs an unresolved conversation (reopen it first)."""

    code = "conversation_resolved"
    title = "Conversation resolved"


class InvalidAssignee(InvalidInput):
    """The assignee is not an active user of the tenant who may read the inbox."""

    code = "invalid_assignee"
    title = "Invalid assignee"


class UnknownTeam(InvalidInput):
    """No team of the tenant has this id."""

    code = "unknown_team"
    title = "Unknown team"


class UnknownMembers(InvalidInput):
    """Team members must be users of the tenant."""

    code = "unknown_members"
    title = "Unknown team members"


class SnoozeNotInFuture(InvalidInput):
    """A conversation is snoozed until a time still to come."""

    code = "snooze_not_in_future"
    title = "Snooze time not in the future"
