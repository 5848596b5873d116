"""Page-numbered lists: the `?page=&page_size=` query and the `{items, total, page,
page_size}` answer.

Both numbers are bounded in the schema, so a page beyond `MAX_PAGE` is a 422 problem
(never a skip the database cannot hold); a list deeper than `MAX_PAGE * MAX_PAGE_SIZE`
items is read by narrowing it with its filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

MAX_PAGE = 10_000
MAX_PAGE_SIZE = 100

PageNumber = Annotated[
    int, Query(ge=1, le=MAX_PAGE, description=f"1-based page number (at most {MAX_PAGE:,})")
]
PageSize = Annotated[
    int,
    Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (at most {MAX_PAGE_SIZE})"),
]


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int


def _paging(page: PageNumber = 1, page_size: PageSize = 20) -> Paging:
    return Paging(page=page, page_size=page_size)


PagingQuery = Annotated[Paging, Depends(_paging)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
