"""A template's variables (positional and named placeholders of header, body and URL
buttons, with Meta's examples) and the rules a new template must follow before it is
submitted (Meta's documented shapes)."""

from __future__ import annotations

from typing import Any

import pytest

from api.domain.messaging.templates import (
    ParameterFormat,
    TemplateVariable,
    normalized_status,
    parameter_format,
    template_problems,
    template_variables,
)

# Meta's example "seasonal_promotion" (positional), from the template creation docs.
POSITIONAL: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "TEXT", "text": "Our {{1}} is on!",
     "example": {"header_text": ["Summer Sale"]}},
    {"type": "BODY",
     "text": "Shop now through {{1}} and use code {{2}} to get {{3}} off of all merchandise.",
     "example": {"body_text": [["the end of August", "25OFF", "25%"]]}},
    {"type": "FOOTER", "text": "Use the buttons below to manage your marketing subscriptions"},
    {"type": "BUTTONS", "buttons": [
        {"type": "QUICK_REPLY", "text": "Unsubscribe from Promos"},
        {"type": "URL", "text": "Shop", "url": "https://www.example.com/shop/{{1}}",
         "example": ["https://www.example.com/shop/summer"]},
    ]},
]  # fmt: skip
# Meta's named-parameter example ("order_confirmation").
NAMED: list[dict[str, Any]] = [
    {"type": "HEADER", "format": "TEXT", "text": "Order {{order_id}}",
     "example": {"header_text_named_params": [{"param_name": "order_id", "example": "335628"}]}},
    {"type": "BODY",
     "text": "Thank you, {{first_name}}! Your order {{order_id}} is confirmed.",
     "example": {"body_text_named_params": [
         {"param_name": "first_name", "example": "Pablo"},
         {"param_name": "order_id", "example": "335628"},
     ]}},
]  # fmt: skip


def test_positional_variables_with_their_examples() -> None:
    assert template_variables(POSITIONAL) == [
        TemplateVariable(component="header", index=1, example="Summer Sale"),
        TemplateVariable(component="body", index=1, example="the end of August"),
        TemplateVariable(component="body", index=2, example="25OFF"),
        TemplateVariable(component="body", index=3, example="25%"),
        TemplateVariable(
            component="button", index=1, example="https://www.example.com/shop/summer",
            button_index=1,
        ),
    ]  # fmt: skip
    assert parameter_format(POSITIONAL) is ParameterFormat.POSITIONAL
    assert template_problems("seasonal_promotion", "en_US", "MARKETING", POSITIONAL) == []


def test_named_variables_with_their_examples() -> None:
    assert template_variables(NAMED) == [
        TemplateVariable(component="header", index="order_id", example="335628"),
        TemplateVariable(component="body", index="first_name", example="Pablo"),
        TemplateVariable(component="body", index="order_id", example="335628"),
    ]
    assert parameter_format(NAMED) is ParameterFormat.NAMED
    assert template_problems("order_confirmation", "en", "UTILITY", NAMED) == []


def test_a_template_without_placeholders_has_no_variables() -> None:
    components = [{"type": "BODY", "text": "Hello!"}]
    assert template_variables(components) == []
    assert template_problems("hello", "en_US", "UTILITY", components) == []


def body(text: str, example: Any = None) -> list[dict[str, Any]]:
    component: dict[str, Any] = {"type": "BODY", "text": text}
    if example is not None:
        component["example"] = example
    return [component]


@pytest.mark.parametrize(
    ("name", "language", "category", "components", "where", "says"),
    [
        ("Hello World", "en_US", "UTILITY", body("Hi"), ("name",), "lowercase"),
        ("hello", "english", "UTILITY", body("Hi"), ("language",), "language code"),
        ("hello", "en_US", "PROMO", body("Hi"), ("category",), "MARKETING"),
        (
            "hello",
            "en_US",
            "UTILITY",
            [{"type": "FOOTER", "text": "x"}],
            ("components",),
            "BODY component is required",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            [{"type": "BODY"}],
            ("components", 0, "text"),
            "needs a text",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            [*body("Hi"), *body("Again")],
            ("components", 1, "type"),
            "only one BODY",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            [{"type": "CAROUSEL"}, *body("Hi")],
            ("components", 0, "type"),
            "HEADER, BODY",
        ),
        ("hello", "en_US", "UTILITY", body("x" * 1025), ("components", 0, "text"), "1024"),
        (
            "hello",
            "en_US",
            "UTILITY",
            body("Hi {{1}}"),
            ("components", 0, "example"),
            "needs an example",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            body("Hi {{1}} {{2}}", {"body_text": [["Ann"]]}),
            ("components", 0, "example"),
            "needs an example",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            body("Hi {{2}}", {"body_text": [["a", "b"]]}),
            ("components", 0, "text"),
            "in order",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            body("Hi {{Name}}"),
            ("components", 0, "text"),
            "lowercase_name",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            body(
                "Hi {{1}} {{name}}",
                {
                    "body_text": [["a"]],
                    "body_text_named_params": [{"param_name": "name", "example": "Ann"}],
                },
            ),
            ("components",),
            "all positional or all named",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            [
                *body("Hi"),
                {
                    "type": "BUTTONS",
                    "buttons": [{"type": "URL", "text": "Go", "url": "https://x.example/{{1}}"}],
                },
            ],
            ("components", 1, "buttons", 0, "example"),
            "URL variable",
        ),
        (
            "hello",
            "en_US",
            "UTILITY",
            [*body("Hi"), {"type": "FOOTER", "text": "{{1}}"}],
            ("components", 1, "text"),
            "no placeholders",
        ),
    ],
)
def test_template_rules(
    name: str,
    language: str,
    category: str,
    components: list[dict[str, Any]],
    where: tuple[str | int, ...],
    says: str,
) -> None:
    problems = template_problems(name, language, category, components)
    assert any(loc == where and says in msg for loc, msg in problems), problems


def test_an_authentication_body_needs_no_text() -> None:
    components: list[dict[str, Any]] = [
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE"}]},
    ]
    assert template_problems("auth_code", "en_US", "AUTHENTICATION", components) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [("approved", "APPROVED"), ("REINSTATED", "APPROVED"), (None, "PENDING"),
     (" paused ", "PAUSED")],
)  # fmt: skip
def test_statuses_read_as_meta_names_them(given: str | None, expected: str) -> None:
    assert normalized_status(given) == expected
