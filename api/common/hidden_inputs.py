"""Hiding the values pydantic's validation errors quote.

A `ValidationError`'s message names each value it refused (`input_value='...'`): a
customer's message, a phone number, an address. Wherever an error's text is kept (log
lines, a webhook item's stored error), those values are hidden; the field, the rule and
the value's type stay, which is what finding the cause needs.
"""

from __future__ import annotations

import re

_INPUT_VALUE = re.compile(r"input_value=.*?, input_type=")
HIDDEN = "input_value=<hidden>, input_type="


def without_inputs(text: str) -> str:
    """`text` with every `input_value=...` of a validation error hidden."""
    if "input_value=" not in text:
        return text
    return _INPUT_VALUE.sub(HIDDEN, text)
