"""Template variables' keys and the Graph API `components` of a send built from
`{key: value}`: positional, named, URL buttons, media headers; missing, empty and unknown
values refused with each key named."""

from __future__ import annotations

from typing import Any

import pytest

from api.common.clock import utcnow
from api.domain.messaging.errors import TemplateValuesInvalid
from api.domain.messaging.template_parameters import send_components
from api.domain.messaging.templates import APPROVED, Template, template_variables
from tests.support.templates import ORDER_CONFIRMATION, SEASONAL


def template(components: list[dict[str, Any]]) -> Template:
    now = utcnow()
    return Template(
        channel_id="ch1", waba_id="w1", name="t", language="en_US", status=APPROVED,
        components=components, variables=template_variables(components),
        created_at=now, updated_at=now,
    )  # fmt: skip


PROMO = template(SEASONAL)
NAMED = template(ORDER_CONFIRMATION)
IMAGE = template([
    {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x/h.jpg"]}},
    {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Ann"]]}},
    {"type": "BUTTONS", "buttons": [
        {"type": "URL", "text": "A", "url": "https://a.example/{{1}}", "example": ["x"]},
        {"type": "URL", "text": "B", "url": "https://b.example/{{1}}", "example": ["y"]},
    ]},
])  # fmt: skip


def test_keys() -> None:
    assert [v.key for v in PROMO.variables] == [
        "header.1", "body.1", "body.2", "body.3", "button.1.1",
    ]  # fmt: skip
    assert [v.key for v in NAMED.variables] == ["body.first_name", "body.order_number"]
    assert [(v.key, v.type, v.example) for v in IMAGE.variables] == [
        ("header.image", "image", "https://x/h.jpg"), ("body.1", "text", "Ann"),
        ("button.0.1", "text", "x"), ("button.1.1", "text", "y"),
    ]  # fmt: skip


def test_positional_components_in_order() -> None:
    values = {"body.3": "25%", "body.1": "Sunday", "header.1": "Sale", "body.2": "CODE",
              "button.1.1": "summer"}  # fmt: skip
    assert send_components(PROMO, values) == [
        {"type": "header", "parameters": [{"type": "text", "text": "Sale"}]},
        {"type": "body", "parameters": [
            {"type": "text", "text": "Sunday"}, {"type": "text", "text": "CODE"},
            {"type": "text", "text": "25%"},
        ]},
        {"type": "button", "sub_type": "url", "index": "1",
         "parameters": [{"type": "text", "text": "summer"}]},
    ]  # fmt: skip


def test_named_and_media_components() -> None:
    named = send_components(NAMED, {"body.order_number": "A-1", "body.first_name": "Ann"})
    assert named == [{"type": "body", "parameters": [
        {"type": "text", "parameter_name": "first_name", "text": "Ann"},
        {"type": "text", "parameter_name": "order_number", "text": "A-1"},
    ]}]  # fmt: skip
    values = {"header.image": "https://cdn.example/p.jpg", "body.1": "Bo", "button.0.1": "a",
              "button.1.1": "b"}  # fmt: skip
    media = send_components(IMAGE, values)
    assert media[0] == {"type": "header", "parameters": [
        {"type": "image", "image": {"link": "https://cdn.example/p.jpg"}}]}  # fmt: skip
    assert [(c["type"], c.get("index")) for c in media] == [
        ("header", None), ("body", None), ("button", "0"), ("button", "1"),
    ]  # fmt: skip
    assert send_components(template([{"type": "BODY", "text": "Hello"}]), {}) == []


def test_every_variable_needs_a_value_and_no_other_key() -> None:
    with pytest.raises(TemplateValuesInvalid) as missing:
        send_components(PROMO, {"header.1": "Sale", "body.1": " ", "body.9": "x"})
    problems = {(p.loc, p.msg) for p in missing.value.problems}
    assert problems == {
        (("values", "body.1"), "this variable needs a value"),
        (("values", "body.2"), "this variable needs a value"),
        (("values", "body.3"), "this variable needs a value"),
        (("values", "button.1.1"), "this variable needs a value"),
        (("values", "body.9"), "the template has no variable body.9"),
    }
    assert missing.value.code == "template_values_invalid"
    assert "header.1, body.1, body.2, body.3, button.1.1" in missing.value.detail
