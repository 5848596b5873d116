"""Skip and limit as MongoDB can take them.

The HTTP schemas bound every page, so this never binds for a request; it makes sure no
code path (an operator's command, a future route, a caller's arithmetic) hands the driver
a number it cannot encode (MongoDB integers are 8 bytes: `OverflowError`, a 500) or one
it reads otherwise (a limit of 0 is no limit at all, a negative one a single batch).
"""

from __future__ import annotations

from dataclasses import dataclass

MONGO_MAX_INT = 2**63 - 1


@dataclass(frozen=True)
class Window:
    """What to send: `skip` (0: none) and `limit` (None: none)."""

    skip: int
    limit: int | None


def window(skip: int, limit: int | None) -> Window | None:
    """The skip and limit to send for a caller's `skip` and `limit`, or None when no
    document can be in that window (a limit below 1, or a skip beyond any collection's
    size): then the caller answers an empty page without asking the server.

    A negative skip is 0; a limit too large to encode is no limit (it could not be
    reached anyway).
    """
    if limit is not None and limit < 1:
        return None
    if skip > MONGO_MAX_INT:
        return None
    return Window(
        skip=max(skip, 0), limit=None if limit is None or limit > MONGO_MAX_INT else limit
    )
