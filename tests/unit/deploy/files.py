"""Reading the deployment files without an engine: the compose file (with compose's own
`${VAR:-default}` interpolation, at its defaults), the Dockerfile's instructions, the
build context's ignore list and `.env.example`."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.settings import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
APP_SERVICES = ("api", "worker", "beat", "flower")

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def at_defaults(value: str) -> str:
    """Compose's interpolation with nothing set: `${X:-d}` is `d`, `${X:?msg}` is `<X>`
    (compose would refuse to start; tests only need a stand-in), `${X}` is empty."""

    def resolve(match: re.Match[str]) -> str:
        op, arg = match["op"], match["arg"] or ""
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return f"<{match['name']}>"
        return ""

    return _VARIABLE.sub(resolve, value.replace("$$", "\0")).replace("\0", "$")


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # `<<` merges resolved
    return loaded


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def duration_seconds(value: str) -> float:
    """A compose duration (`1m30s`, `45s`, `330s`, `2m`) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", value)
    assert parts and "".join(n + u for n, u in parts) == value, f"not a duration: {value!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: str


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions (continuations joined, comments dropped), each with
    the name of its build stage."""
    instructions: list[Instruction] = []
    stage, pending = "", ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        pending = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            stage = arguments.split()[-1] if " AS " in arguments.upper() else arguments
        instructions.append(Instruction(keyword, " ".join(arguments.split()), stage))
    return instructions


def final_stage() -> list[Instruction]:
    instructions = dockerfile()
    last = instructions[-1].stage
    return [i for i in instructions if i.stage == last]


def exec_form(arguments: str) -> list[str]:
    """A CMD/ENTRYPOINT in exec (JSON) form, or a shell form split like a shell would."""
    if arguments.startswith("["):
        parsed: list[str] = json.loads(arguments)
        return parsed
    return shlex.split(arguments)


def env_values(instructions: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "ENV":
            for token in shlex.split(instruction.arguments):
                name, _, value = token.partition("=")
                values[name] = value
    return values


def args(instructions: list[Instruction]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for instruction in instructions:
        if instruction.keyword == "ARG":
            name, has_default, default = instruction.arguments.partition("=")
            found[name] = default if has_default else None
    return found


def active_settings(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """`.env.example`'s uncommented `KEY=value` lines."""
    found = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            found[name.strip()] = value.strip()
    return found


def commented_settings(path: Path = ENV_EXAMPLE) -> set[str]:
    return set(re.findall(r"^#\s*([A-Z][A-Z0-9_]+)=", path.read_text(), flags=re.MULTILINE))
