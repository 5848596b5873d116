"""The body limit middleware on a small app of its own: the limit each route declares
(the JSON default otherwise), the exact boundaries, and a refusal the route wrapped in
an error of its own still answered 413 (the app's later errors and answers dropped)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from api.config import Settings
from api.interfaces.http.errors import register_error_handlers
from api.interfaces.http.middleware.body_limit import (
    MULTIPART_FRAMING,
    BodyLimit,
    BodyLimitMiddleware,
    body_limit,
)
from tests.support.settings import make_settings

JSON_LIMIT = 2048
JSON = {"Content-Type": "application/json"}
UPLOAD_LIMIT = 4096


class Note(BaseModel):
    text: str


def small_app() -> FastAPI:
    settings: Settings = make_settings("mongodb://unused", "redis://unused/0", "unused")
    settings.max_json_body_bytes = JSON_LIMIT
    settings.storage.max_upload_bytes = UPLOAD_LIMIT
    app = FastAPI()
    register_error_handlers(app)

    @app.post("/notes")
    async def note(body: Note) -> dict[str, int]:
        return {"length": len(body.text)}

    @app.post("/raw")
    @body_limit(BodyLimit.UPLOAD)
    async def raw(request: Request) -> dict[str, int]:
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
        except Exception as exc:  # a layer that wraps what it does not know
            raise RuntimeError("the upload failed") from exc
        return {"size": size}

    app.add_middleware(BodyLimitMiddleware, settings=settings)
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app())  # app errors would raise here
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def note_of(size: int) -> bytes:
    return b'{"text": "' + b"x" * (size - 12) + b'"}'


async def chunked(data: bytes, piece: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def test_routes_without_a_marker_get_the_json_limit(http: httpx.AsyncClient) -> None:
    fits = await http.post("/notes", content=note_of(JSON_LIMIT), headers=JSON)
    assert fits.status_code == 200, fits.text
    for content in (note_of(JSON_LIMIT + 1), chunked(note_of(JSON_LIMIT + 1))):
        over = await http.post("/notes", content=content, headers=JSON)
        assert over.status_code == 413, over.text
        assert over.headers["content-type"] == "application/problem+json"
        assert over.json()["code"] == "payload_too_large"
        assert over.json()["detail"] == (
            f"The request body is larger than the limit of {JSON_LIMIT} bytes."
        )


async def test_a_marked_route_gets_its_own_limit(http: httpx.AsyncClient) -> None:
    most = UPLOAD_LIMIT + MULTIPART_FRAMING
    for content in (b"x" * most, chunked(b"x" * most)):
        fits = await http.post("/raw", content=content)
        assert fits.status_code == 200, fits.text
        assert fits.json() == {"size": most}
    for content in (b"x" * (most + 1), chunked(b"x" * (most + 1))):
        over = await http.post("/raw", content=content)  # the route's own error is dropped
        assert over.status_code == 413, over.text
        assert f"at most {UPLOAD_LIMIT} bytes" in over.json()["detail"]
