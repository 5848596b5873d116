"""Meta's `signed_request` (what the data deletion callback posts as a form field):
`<base64url HMAC-SHA256 signature>.<base64url JSON payload>`, the signature computed over
the encoded payload with the app secret; the payload names `algorithm` (HMAC-SHA256),
`issued_at` and the `user_id` (the app-scoped id of the person)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any


class SignedRequestMalformed(ValueError):
    """Not of Meta's form (no dot, not base64url, not JSON, another algorithm)."""


class SignedRequestForged(ValueError):
    """Well formed, but the signature is not the app secret's."""


def _decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignedRequestMalformed("not base64url") from exc


def parse_signed_request(signed_request: str, app_secret: str) -> dict[str, Any]:
    """The payload, once its signature proves it was made with `app_secret`."""
    encoded_signature, dot, encoded_payload = signed_request.strip().partition(".")
    if not dot or not encoded_signature or not encoded_payload:
        raise SignedRequestMalformed("expected <signature>.<payload>")
    signature = _decode(encoded_signature)
    try:
        payload = json.loads(_decode(encoded_payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignedRequestMalformed("the payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise SignedRequestMalformed("the payload is not a JSON object")
    if str(payload.get("algorithm", "")).upper() != "HMAC-SHA256":
        raise SignedRequestMalformed("unsupported algorithm")
    expected = hmac.new(app_secret.encode(), encoded_payload.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise SignedRequestForged("signature mismatch")
    return payload


def make_signed_request(payload: dict[str, Any], app_secret: str) -> str:
    """Meta's encoding of `payload` (tests and tools speak it like Meta does)."""
    body = {"algorithm": "HMAC-SHA256", **payload}
    encoded = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    digest = hmac.new(app_secret.encode(), encoded.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{signature}.{encoded}"
