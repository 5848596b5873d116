"""The errors Parley's use cases raise, each with a stable machine-readable `code`.

The tree (no HTTP knowledge here; `interfaces/http/errors.py` maps classes to statuses):

    ParleyError
    ├── NotFound                    the resource does not exist *for this caller*
    │   └── TenantNotFound          an unknown tenant was named
    ├── Conflict                    a uniqueness or state rule would be broken
    ├── InvalidInput                well-formed request, invalid values (field `errors`)
    │   └── InvalidTenant           a malformed tenant id or host
    ├── Forbidden                   authenticated but not allowed
    │   ├── TenantSuspended         the tenant exists but is suspended (or was rejected)
    │   └── TenantPending           the tenant signed up and waits for approval
    ├── Unauthorized                no or bad credentials
    ├── TenantRequired              tenant-scoped work without a tenant in context
    ├── ServiceUnavailable          a dependency (database, cache, provider) is down
    ├── PayloadTooLarge             the upload is larger than the limit allows
    ├── UnsupportedMediaType        the upload's content (sniffed) is not an allowed type
    ├── RateLimited                 too many attempts; retry after `retry_after` seconds
    ├── TemporaryFailure            worth retrying later (network, 4xx SMTP, 5xx, rate limit)
    └── PermanentFailure            retrying will not help (rejected recipient, bad config)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input field: where (`loc`) and what (`msg`)."""

    loc: tuple[str | int, ...]
    msg: str


class ParleyError(Exception):
    """Base of every error a use case may raise on purpose."""

    code: str = "error"
    title: str = "Error"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.title
        super().__init__(self.detail)

    @property
    def extensions(self) -> dict[str, str]:
        """Extra members of the problem answer (for example the id a duplicate matched)."""
        return {}


class NotFound(ParleyError):
    """The resource does not exist, or belongs to another tenant (never told apart)."""

    code = "not_found"
    title = "Not found"


class TenantNotFound(NotFound):
    """The request named a tenant that does not exist."""

    code = "tenant_not_found"
    title = "Tenant not found"


class Conflict(ParleyError):
    """The change would break a uniqueness or state rule (duplicate, taken, stale)."""

    code = "conflict"
    title = "Conflict"


class InvalidInput(ParleyError):
    """The values are invalid; `problems` says which fields and why."""

    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, detail: str | None = None, problems: list[FieldProblem] | None = None):
        super().__init__(detail)
        self.problems = problems or []


class InvalidTenant(InvalidInput):
    """The request named a tenant in a malformed way (bad id or host)."""

    code = "invalid_tenant"
    title = "Invalid tenant"


class MalformedRequest(ParleyError):
    """The request cannot be read at all (a body that is not JSON where JSON is due)."""

    code = "malformed_request"
    title = "Malformed request"


class Unauthorized(ParleyError):
    """No credentials, or credentials that are not valid."""

    code = "unauthorized"
    title = "Unauthorized"


class Forbidden(ParleyError):
    """The caller is known but not allowed to do this."""

    code = "forbidden"
    title = "Forbidden"


class TenantSuspended(Forbidden):
    """The tenant exists but is suspended: nothing runs in it."""

    code = "tenant_suspended"
    title = "Tenant suspended"


class TenantPending(Forbidden):
    """The tenant signed up by itself and waits for a platform admin's approval."""

    code = "tenant_pending"
    title = "Tenant pending approval"


class TenantRequired(ParleyError):
    """Tenant-scoped work was attempted with no tenant in context (fail closed)."""

    code = "tenant_required"
    title = "Tenant required"


class ServiceUnavailable(ParleyError):
    """A dependency (`service`) is down; the caller may retry after `retry_after` seconds."""

    code = "service_unavailable"
    title = "Service unavailable"

    def __init__(self, service: str, retry_after: int = 5, detail: str | None = None) -> None:
        self.service = service
        self.retry_after = retry_after
        super().__init__(detail or f"The {service} is unavailable; try again shortly.")


class PayloadTooLarge(ParleyError):
    """The upload is larger than the limit allows (`limit` bytes)."""

    code = "payload_too_large"
    title = "Payload too large"

    def __init__(self, limit: int, detail: str | None = None) -> None:
        self.limit = limit
        super().__init__(detail or f"The file is larger than the limit of {limit} bytes.")


class MalwareDetected(InvalidInput):
    """The malware scanner found a threat in the file (named in `threat`); nothing is kept."""

    code = "malware_detected"
    title = "Malware detected"

    def __init__(self, threat: str) -> None:
        self.threat = threat
        super().__init__(f"The file was refused: the malware scanner found {threat}.")


class UnsupportedMediaType(ParleyError):
    """The upload's content, as sniffed from its first bytes, is not an allowed type."""

    code = "unsupported_media_type"
    title = "Unsupported media type"


class TemporaryFailure(ParleyError):
    """An outside service failed in a way that may pass: retry later, with backoff."""

    code = "temporary_failure"
    title = "Temporary failure"


class Deferred(ParleyError):
    """A job cannot start its work now and holds nothing (a busy provider's slots are all
    taken): queue it again in `retry_after` seconds, its attempts untouched."""

    code = "deferred"
    title = "Deferred"

    def __init__(self, detail: str, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = max(0.0, retry_after)


class PermanentFailure(ParleyError):
    """An outside service refused the work for good: do not retry."""

    code = "permanent_failure"
    title = "Permanent failure"


class RateLimited(ParleyError):
    """Too many attempts (or a temporary lockout); the caller may retry later."""

    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(detail or "Too many attempts; try again later.")


class InvalidToken(ParleyError):
    """A reset, verification or invitation token that is unknown, used or expired."""

    code = "invalid_token"
    title = "Invalid token"


class InvalidMfaCode(Unauthorized):
    """The one-time code does not match."""

    code = "invalid_mfa_code"
    title = "Invalid MFA code"
