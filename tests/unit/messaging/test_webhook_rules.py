"""The webhook signature (HMAC-SHA256 of the raw bytes, constant time) and verify tokens."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from api.domain.errors import Forbidden, Unauthorized
from api.usecases.messaging.webhook_rules import check_signature, tokens_match

BODY = b'{"entry": []}'
SECRET = "s3cret"


def header(body: bytes = BODY, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_right_signature_passes_in_either_case() -> None:
    check_signature(SECRET, BODY, header())
    check_signature(SECRET, BODY, header().upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize("given", [None, ""])
def test_a_missing_signature_is_unauthorized(given: str | None) -> None:
    with pytest.raises(Unauthorized):
        check_signature(SECRET, BODY, given)


@pytest.mark.parametrize(
    "given",
    [header(secret="other"), header(body=BODY + b" "), header()[7:], "sha1=abc", "sha256="],
)
def test_a_wrong_signature_is_forbidden(given: str) -> None:
    with pytest.raises(Forbidden):
        check_signature(SECRET, BODY, given)


def test_no_secret_to_check_with_is_forbidden() -> None:
    with pytest.raises(Forbidden):
        check_signature(None, BODY, header())


def test_tokens_match() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match(None, "abc") and not tokens_match("abc", None)
