"""The rules a new password must meet, wherever one is set (sign-up, registration, an
admin creating a user, reset and invitation links, a change of password, a new tenant's
owner)."""

from __future__ import annotations

from api.domain.errors import FieldProblem, InvalidInput
from api.domain.identity.auth import AuthPolicy, BreachedPasswords
from api.domain.identity.users import check_password_policy

BREACHED = "appears in a known data breach (Have I Been Pwned's Pwned Passwords); choose another"


class PasswordRules:
    """Length, not the email, and not a password known from data breaches.

    The breach check runs last, and only for a password that meets the rest: it may be a
    network call (`BreachedPasswords`), which never holds up a change when the corpus
    cannot be reached. Problems are 422 `invalid_input` on `field`.
    """

    def __init__(self, breaches: BreachedPasswords, policy: AuthPolicy) -> None:
        self._breaches = breaches
        self._policy = policy

    async def check(self, password: str, *, email: str, field: str = "password") -> None:
        self.check_local(password, email=email, field=field)
        if await self._breaches.is_breached(password):
            raise InvalidInput(
                "The password does not meet the policy.", [FieldProblem((field,), BREACHED)]
            )

    def check_local(self, password: str, *, email: str, field: str = "password") -> None:
        """The rules that need no lookup: length, and not the email (422 on `field`)."""
        try:
            check_password_policy(
                password, email=email, min_length=self._policy.password_min_length
            )
        except InvalidInput as exc:
            raise InvalidInput(
                exc.detail, [FieldProblem((field,), p.msg) for p in exc.problems]
            ) from None
