"""Names people give things (a team, a department): what they are stored as."""

from __future__ import annotations

from api.domain.errors import FieldProblem, InvalidInput


def group_name(raw: str, what: str, max_length: int) -> str:
    """`raw` trimmed with inner spaces collapsed; `InvalidInput` on `name` unless it then
    has 1 to `max_length` characters (`what`: "team", "department", for the message)."""
    name = " ".join(raw.split())
    if not 1 <= len(name) <= max_length:
        raise InvalidInput(
            f"A {what} name has 1 to {max_length} characters.",
            [FieldProblem(("name",), f"1 to {max_length} characters")],
        )
    return name
