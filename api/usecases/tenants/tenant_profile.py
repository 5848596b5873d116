"""The company profile (`GET/PUT /api/v1/tenant/profile`): read by any user of the
tenant, replaced by those holding `tenant:update`."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from api.common.locales import is_country, is_timezone, keyword
from api.domain.errors import FieldProblem, InvalidInput
from api.domain.files.storage import FileRepository
from api.domain.identity.auth import Principal
from api.domain.permissions import Permission
from api.domain.tenants.profile import (
    DEFAULT_TIMEZONE,
    LOGO_TYPES,
    TenantProfile,
    TenantProfileRepository,
)
from api.usecases.kernel.auditor import Auditor, diff
from api.usecases.kernel.authority import audit_extra, require_permission
from api.usecases.kernel.clock import stored_now

MAX_KEYWORDS = 20
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_LOCALE = re.compile(r"^[a-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")


class ProfileInput(BaseModel):
    """The whole profile as `PUT` sends it (a field left out takes its default)."""

    model_config = ConfigDict(frozen=True)

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    logo_file_id: str | None = Field(default=None, min_length=1, max_length=64)
    brand_color: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    default_country: str | None = None
    locale: str | None = None
    email_footer: str | None = Field(default=None, max_length=2000)
    opt_out_keywords: list[str] = Field(default_factory=list, max_length=MAX_KEYWORDS)
    opt_in_keywords: list[str] = Field(default_factory=list, max_length=MAX_KEYWORDS)


def _keywords(field: str, given: list[str], problems: list[FieldProblem]) -> list[str]:
    kept: list[str] = []
    for index, raw in enumerate(given):
        word = " ".join(raw.split())
        if not 1 <= len(word) <= 30:
            problems.append(FieldProblem(("body", field, index), "1 to 30 characters"))
        elif keyword(word) not in {keyword(k) for k in kept}:
            kept.append(word)
    return kept


def validated(given: ProfileInput) -> TenantProfile:
    """The profile to store, or `InvalidInput` naming every bad field."""
    problems: list[FieldProblem] = []
    country = given.default_country.upper() if given.default_country else None
    if country is not None and not is_country(country):
        problems.append(FieldProblem(("body", "default_country"),
                                     "not an ISO 3166-1 alpha-2 country code"))  # fmt: skip
    if not is_timezone(given.timezone):
        problems.append(FieldProblem(("body", "timezone"), "not an IANA time zone name"))
    if given.brand_color is not None and not _COLOR.match(given.brand_color):
        problems.append(FieldProblem(("body", "brand_color"), "a colour as #RRGGBB"))
    if given.locale is not None and not _LOCALE.match(given.locale):
        problems.append(FieldProblem(("body", "locale"), "a language tag such as en or pt-BR"))
    stop = _keywords("opt_out_keywords", given.opt_out_keywords, problems)
    start = _keywords("opt_in_keywords", given.opt_in_keywords, problems)
    both = {keyword(w) for w in stop} & {keyword(w) for w in start}
    if both:
        problems.append(FieldProblem(("body", "opt_in_keywords"),
                                     f"also an opt-out keyword: {sorted(both)[0]}"))  # fmt: skip
    if problems:
        raise InvalidInput("The profile is not valid.", problems)
    return TenantProfile(
        **given.model_dump(exclude={"default_country", "opt_out_keywords", "opt_in_keywords"}),
        default_country=country, opt_out_keywords=stop, opt_in_keywords=start,
        updated_at=stored_now(),
    )  # fmt: skip


class GetTenantProfile:
    """The current tenant's profile (the defaults when never saved). Any signed-in user of
    the tenant may read it: it is what emails and forms show."""

    def __init__(self, profiles: TenantProfileRepository) -> None:
        self._profiles = profiles

    async def execute(self, principal: Principal) -> TenantProfile:
        return await self._profiles.get() or TenantProfile()


async def check_logo(files: FileRepository, file_id: str | None) -> None:
    """`InvalidInput` unless `file_id` is none or a stored image file of this tenant."""
    if file_id is None:
        return
    found = await files.get(file_id)  # another tenant's file is not found here
    if found is None:
        problem = "no such file in this tenant (upload it to /api/v1/files first)"
    elif found.content_type not in LOGO_TYPES:
        problem = f"not an image (png, jpeg, gif or webp): {found.content_type}"
    else:
        return
    raise InvalidInput("The logo is not valid.", [FieldProblem(("body", "logo_file_id"), problem)])


class UpdateTenantProfile:
    """Replace the current tenant's profile (`tenant:update`). Rules: `default_country`
    is an ISO 3166-1 alpha-2 code (upper-cased), `timezone` an IANA name, `brand_color`
    `#RRGGBB`, `logo_file_id` a stored image (png, jpeg, gif, webp) of this tenant,
    keywords 1-30 characters, at most 20 per list, none in both lists.
    Audited: `tenant.profile_updated` with what changed."""

    def __init__(
        self, profiles: TenantProfileRepository, files: FileRepository, auditor: Auditor
    ) -> None:
        self._profiles = profiles
        self._files = files
        self._auditor = auditor

    async def execute(self, principal: Principal, given: ProfileInput) -> TenantProfile:
        require_permission(principal, Permission.TENANT_UPDATE)
        profile = validated(given)
        await check_logo(self._files, profile.logo_file_id)
        before = await self._profiles.get() or TenantProfile()
        saved = await self._profiles.save(profile)
        fields = {"updated_at"}
        changes = diff(before.model_dump(mode="json", exclude=fields),
                       saved.model_dump(mode="json", exclude=fields))  # fmt: skip
        await self._auditor.record(
            "tenant.profile_updated", "tenant", principal.tenant_id,
            actor_id=principal.user_id, changes=audit_extra(principal, changes),
        )  # fmt: skip
        return saved
