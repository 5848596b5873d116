"""JSON bodies are bounded by `MAX_JSON_BODY_BYTES` before they are parsed: an announced
length over it is refused unread, a streamed body is cut off at it (413 problem+json)."""

from __future__ import annotations

from api.config import Settings
from tests.support.app import AppClient, assert_problem, serve
from tests.support.bodies import StreamedBody, length

LOGIN = "/api/v1/auth/login"
JSON = {"Content-Type": "application/json"}
LIMIT = 64 * 1024
CHUNK = 64 * 1024


def big_json(filler: int) -> StreamedBody:
    prefix = b'{"email": "a@b.example.com", "password": "'
    return StreamedBody(prefix, b"", filler, b'"}', fill=b"x")


async def test_json_bodies_over_the_limit_are_refused(settings: Settings) -> None:
    settings = settings.model_copy(deep=True)
    settings.max_json_body_bytes = LIMIT
    async with serve(settings) as http:
        announced = big_json(4 * LIMIT)
        response = await http.post(LOGIN, content=announced, headers={**JSON, **length(announced)})
        problem = assert_problem(response, 413, "payload_too_large")
        assert problem["detail"] == f"The request body is larger than the limit of {LIMIT} bytes."
        assert announced.taken == 0
        streamed = big_json(64 * 1024 * 1024)
        response = await http.post(LOGIN, content=streamed, headers=JSON)
        assert_problem(response, 413, "payload_too_large")
        assert streamed.taken <= LIMIT + CHUNK
        # Within the limit, the body is read and the route answers as ever.
        fits = big_json(LIMIT - 100)
        response = await http.post(LOGIN, content=fits, headers={**JSON, **length(fits)})
        assert_problem(response, 422, "invalid_input")
        assert fits.taken == fits.size


async def test_the_default_limit_is_one_mebibyte(client: AppClient) -> None:
    over = big_json(1024 * 1024)
    response = await client.post(LOGIN, content=over, headers=JSON)
    problem = assert_problem(response, 413, "payload_too_large")
    assert problem["detail"] == "The request body is larger than the limit of 1048576 bytes."
