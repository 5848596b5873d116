"""Whether a subdomain could be had now (public: sign-up forms ask before submitting)."""

from __future__ import annotations

from pydantic import BaseModel

from api.common.request_context import current_client
from api.domain.identity.auth import AuthPolicy, RateLimiter
from api.domain.tenants.tenant import SubdomainIssue, TenantRepository, subdomain_issue
from api.usecases.kernel.rate_limits import enforce_rate


class SubdomainAvailability(BaseModel):
    subdomain: str
    available: bool
    reason: SubdomainIssue | None = None


class CheckSubdomainAvailability:
    """Whether a subdomain could be had now (public: no caller, any plane).

    Rules: limited per client IP (3 x the sensitive rate per minute, else `RateLimited`);
    the answer is never an error for a bad value: `invalid` (not a DNS label), `reserved`
    (never available) or `taken` (by any tenant, suspended ones too).
    """

    def __init__(self, tenants: TenantRepository, limiter: RateLimiter, policy: AuthPolicy) -> None:
        self._tenants = tenants
        self._limiter = limiter
        self._policy = policy

    async def execute(self, raw: str) -> SubdomainAvailability:
        ip, _ = current_client()
        limit = self._policy.sensitive_rate_per_ip * 3
        await enforce_rate(self._limiter, f"subdomain-check:ip:{ip or 'unknown'}", limit)
        subdomain = raw.strip().lower()
        issue = subdomain_issue(subdomain)
        if issue is None and await self._tenants.get_by_subdomain(subdomain) is not None:
            issue = SubdomainIssue.TAKEN
        return SubdomainAvailability(subdomain=subdomain, available=issue is None, reason=issue)
