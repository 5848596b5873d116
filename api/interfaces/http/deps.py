"""The one bridge from FastAPI routes to the punq container.

async def route(use_case: Annotated[SendMessage, Inject(SendMessage)]) -> ...
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import punq
from fastapi import Depends, Request

T = TypeVar("T")


def container_of(request: Request) -> punq.Container:
    return cast(punq.Container, request.app.state.container)


def Inject(dependency: type[T]) -> Any:  # noqa: N802 - reads as a type annotation marker
    """A FastAPI dependency resolving `dependency` from the app's container per request."""

    # async: a sync dependency would run in the thread pool, one hop per request.
    async def resolve(request: Request) -> T:
        resolved: T = container_of(request).resolve(dependency)
        return resolved

    return Depends(resolve)
