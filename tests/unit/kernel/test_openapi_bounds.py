"""Every integer a client can send is bounded in the OpenAPI document (minimum and
maximum), in every query, path, header and body: an unbounded one reached MongoDB as a
number it cannot hold and answered 500 (issue #12)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.support.openapi import openapi_document


def _document() -> dict[str, Any]:
    return openapi_document()


def _integers(node: Any, document: dict[str, Any], where: str, seen: set[str]) -> Iterator[Any]:
    """(where, schema) of every integer schema reachable from `node`, `$ref`s followed."""
    if isinstance(node, list):
        for item in node:
            yield from _integers(item, document, where, seen)
        return
    if not isinstance(node, dict):
        return
    if ref := node.get("$ref"):
        if ref in seen:
            return
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        yield from _integers(target, document, f"{where} -> {ref}", seen | {ref})
        return
    if node.get("type") == "integer":
        yield where, node
    for key, value in node.items():
        yield from _integers(value, document, f"{where}.{key}", seen)


def _client_inputs(document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                yield f"{label} {parameter['in']} {parameter['name']}", parameter["schema"]
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                yield f"{label} body ({media_type})", content.get("schema", {})


def test_every_integer_a_client_sends_is_bounded() -> None:
    document = _document()
    unbounded = [
        where
        for label, schema in _client_inputs(document)
        for where, integer in _integers(schema, document, label, set())
        if "maximum" not in integer or "minimum" not in integer
    ]
    assert unbounded == []


def test_the_paged_lists_document_their_bounds() -> None:
    document = _document()
    pages = [
        {p["name"]: p["schema"] for p in operation.get("parameters", [])}
        for operations in document["paths"].values()
        for operation in operations.values()
    ]
    paged = [p for p in pages if "page" in p]
    assert len(paged) >= 6
    for parameters in paged:
        assert parameters["page"]["minimum"] == 1 and parameters["page"]["maximum"] == 10_000
        assert parameters["page_size"]["minimum"] == 1
        assert parameters["page_size"]["maximum"] == 100
