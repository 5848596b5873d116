"""A template send's parameters: from `{variable key: value}` to the Graph API's
`components` of a template message.

Keys are `TemplateVariable.key`s (`header.1`, `body.2`, `body.first_name`,
`button.1.1`, `header.image`). Every variable of the template needs a non-empty value and
every key given must be one of the template's: otherwise `TemplateValuesInvalid`, whose
field `errors` name each key (`loc: ["values", key]`). A template without variables takes
`{}` and gives `[]`.

The shapes (Meta's "Send template messages"):

    {"type": "header", "parameters": [{"type": "text", "text": "Summer Sale"}]}
    {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://..."}}]}
    {"type": "body", "parameters": [{"type": "text", "text": "Ann"}, ...]}         # 1, 2...
    {"type": "body", "parameters": [{"type": "text", "parameter_name": "first_name",
                                     "text": "Ann"}]}                              # named
    {"type": "button", "sub_type": "url", "index": "1",
     "parameters": [{"type": "text", "text": "summer"}]}
"""

from __future__ import annotations

from typing import Any

from api.domain.errors import FieldProblem
from api.domain.messaging.errors import TemplateValuesInvalid
from api.domain.messaging.templates import Template, TemplateVariable

_ORDER = {"header": 0, "body": 1, "button": 2}


def check_values(template: Template, values: dict[str, str]) -> None:
    """`TemplateValuesInvalid` unless `values` fill every variable and name no other."""
    keys = [variable.key for variable in template.variables]
    problems = [
        FieldProblem(("values", key), "this variable needs a value")
        for key in keys
        if not str(values.get(key) or "").strip()
    ]
    problems.extend(
        FieldProblem(("values", key), f"the template has no variable {key}")
        for key in values
        if key not in keys
    )
    if problems:
        named = ", ".join(str(p.loc[-1]) for p in problems)
        raise TemplateValuesInvalid(
            f"The values do not fit the template {template.name} ({named}); its variables "
            f"are: {', '.join(keys) or 'none'}.",
            problems,
        )


def _parameter(variable: TemplateVariable, value: str) -> dict[str, Any]:
    if variable.type != "text":
        return {"type": variable.type, variable.type: {"link": value}}
    parameter: dict[str, Any] = {"type": "text", "text": value}
    if isinstance(variable.index, str):
        parameter = {"type": "text", "parameter_name": variable.index, "text": value}
    return parameter


def send_components(template: Template, values: dict[str, str]) -> list[dict[str, Any]]:
    """The Graph API `components` that send `template` with `values` (checked first; see
    the module's rules). Positional parameters go in their number's order, named ones in
    the template's order; header, then body, then each URL button by its index."""
    check_values(template, values)
    groups: dict[tuple[str, int | None], list[TemplateVariable]] = {}
    for variable in template.variables:
        groups.setdefault((variable.component, variable.button_index), []).append(variable)
    components: list[dict[str, Any]] = []
    for (component, button), variables in sorted(
        groups.items(), key=lambda item: (_ORDER.get(item[0][0], 3), item[0][1] or 0)
    ):
        ordered = sorted(variables, key=lambda v: v.index if isinstance(v.index, int) else 0)
        parameters = [_parameter(v, str(values[v.key])) for v in ordered]
        if component == "button":
            components.append({"type": "button", "sub_type": "url", "index": str(button),
                               "parameters": parameters})  # fmt: skip
        else:
            components.append({"type": component, "parameters": parameters})
    return components
