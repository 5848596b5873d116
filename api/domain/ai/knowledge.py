"""Knowledge: the documents an assistant may answer from, as a search port.

The knowledge helper (issue 15 point 5) implements `KnowledgeSearch` over the tenant's
indexed chunks; the assistant's reply pipeline asks it for the passages nearest to a
customer's question and cites their sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class KnowledgeChunk:
    """A passage of one of an assistant's documents, and how near it is to the query."""

    document_id: str
    file_id: str
    filename: str
    text: str
    score: float


class KnowledgeSearch(Protocol):
    """The current tenant's indexed documents of one assistant."""

    async def search(self, assistant_id: str, query: str, *, k: int) -> list[KnowledgeChunk]:
        """The `k` passages nearest to `query`, nearest first (none when the assistant has
        no ready document)."""
        ...
