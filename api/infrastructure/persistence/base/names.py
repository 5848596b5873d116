"""How names that are unique per tenant regardless of case (roles, teams, departments) are
compared: by a stored key next to the name, which a unique index covers."""

from __future__ import annotations


def name_key(name: str) -> str:
    """What such names are compared by: case-folded, surrounding spaces ignored."""
    return name.strip().casefold()
