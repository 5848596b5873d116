"""Page-numbered lists: the `?page=&page_size=` query and the `{items, total, page,
page_size}` answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int


def _paging(
    page: Annotated[int, Query(ge=1, description="1-based page number")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (at most 100)")
    ] = 20,
) -> Paging:
    return Paging(page=page, page_size=page_size)


PagingQuery = Annotated[Paging, Depends(_paging)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int
