"""Opaque cursors for lists paged newest first by `(time field, _id)`.

A cursor is the last item's time and id, base64url-encoded; the next page holds what
sorts after it (older time, or the same time and a smaller id), so items written while a
client pages are neither repeated nor skipped.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId

from api.domain.errors import InvalidInput

BAD_CURSOR = "The cursor is not one this list gave."


def encode_cursor(at: datetime, id: str) -> str:
    raw = f"{at.isoformat()}|{id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def after_cursor(field: str, cursor: str | None, *, descending: bool = True) -> dict[str, Any]:
    """The filter for the items after `cursor` (none: every item); `descending=False` for
    a list paged oldest first (by `(time field, _id)` ascending)."""
    if cursor is None:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, id = raw.split("|", 1)
        oid = ObjectId(id)
        at = datetime.fromisoformat(stamp)
    except (ValueError, binascii.Error, InvalidId, UnicodeDecodeError) as exc:
        raise InvalidInput(BAD_CURSOR) from exc
    after = "$lt" if descending else "$gt"
    return {"$or": [{field: {after: at}}, {field: at, "_id": {after: oid}}]}
