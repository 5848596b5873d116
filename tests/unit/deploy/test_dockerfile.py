"""The Dockerfile and its build context, checked without an engine."""

from __future__ import annotations

import re
import sys
import tomllib

from api import __version__
from api.interfaces.http.uvicorn_protocol import UVICORN_HTTP
from tests.support.settings import ROOT
from tests.unit.deploy.files import (
    DOCKERIGNORE,
    args,
    dockerfile,
    env_values,
    exec_form,
    final_stage,
)

APP_UID = "10001"


def test_dependencies_install_from_the_lock_and_refuse_a_stale_one() -> None:
    syncs = [i.arguments for i in dockerfile() if i.keyword == "RUN" and "uv sync" in i.arguments]
    assert len(syncs) == 1
    assert "--locked" in syncs[0] and "--frozen" not in syncs[0]
    assert "--no-dev" in syncs[0]


def test_the_image_has_a_data_dir_its_user_owns() -> None:
    stage = final_stage()
    storage = env_values(stage)["LOCAL_STORAGE_DIR"]
    data_dir = storage.rsplit("/", 1)[0]
    assert data_dir == "/data"
    assert env_values(stage)["MAIL_OUTBOX_DIR"].startswith(data_dir + "/")
    runs = " && ".join(i.arguments for i in stage if i.keyword == "RUN")
    assert re.search(rf"mkdir -p [^&]*{re.escape(storage)}", runs)
    assert re.search(rf"chown -R {APP_UID}:{APP_UID} {re.escape(data_dir)}(\s|$)", runs)
    [user] = [i.arguments for i in stage if i.keyword == "USER"]
    assert user == f"{APP_UID}:{APP_UID}"


def test_labels_name_no_placeholder_and_the_real_version() -> None:
    stage = final_stage()
    labels = " ".join(i.arguments for i in stage if i.keyword == "LABEL")
    assert "example.com" not in labels
    assert 'org.opencontainers.image.source="${PARLEY_SOURCE}"' in labels
    assert 'org.opencontainers.image.revision="${PARLEY_REVISION}"' in labels
    build_args = args(stage)
    assert build_args["PARLEY_SOURCE"] == "" and build_args["PARLEY_REVISION"] == ""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert build_args["PARLEY_VERSION"] == project["version"] == __version__


def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go's filepath.Match plus `**`, anchored at the context's
    root) as a regex: `*` and `?` stay within one path segment, `**` spans any."""
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "?":
            regex, i = regex + "[^/]", i + 1
        elif pattern[i] == "[":
            close = pattern.index("]", i)
            regex, i = regex + pattern[i : close + 1], close + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


def _ignored(path: str, patterns: list[str]) -> bool:
    """The last pattern matching the path or one of its folders wins; `!` re-includes."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        compiled = _pattern(pattern.removeprefix("!").strip("/"))
        if any(compiled.fullmatch(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def test_the_build_context_holds_the_code_and_no_local_state() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    kept = ("pyproject.toml", "uv.lock", "api/main.py", "api/infrastructure/email/templates/x.html")
    for path in kept:
        assert not _ignored(path, patterns), path
    for path in (
        ".git/HEAD", ".venv/bin/python", ".data/blobs/x", ".env", "api/.env", ".env.local",
        "tests/conftest.py", "scripts/serve", "bench/README.md", "api/__pycache__/main.pyc",
        "secrets/jwt.pem", "scripts/azurite/node_modules/x.js", ".mypy_cache/x",
    ):  # fmt: skip
        assert _ignored(path, patterns), path
    copied = [i.arguments.split()[0] for i in dockerfile() if i.keyword == "COPY"]
    copied = [c for c in copied if not c.startswith("--")]
    assert sorted(copied) == ["api/", "pyproject.toml"]  # `COPY pyproject.toml uv.lock ./`


def test_every_start_of_the_api_uses_parleys_http_protocol() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import serve  # scripts/ is not a package

    [command] = [i.arguments for i in final_stage() if i.keyword == "CMD"]
    argv = exec_form(command)
    assert argv[argv.index("--http") + 1] == UVICORN_HTTP
    [api, *_] = serve.parley_commands(serve.Settings.from_env({}), [])
    assert api.argv[api.argv.index("--http") + 1] == UVICORN_HTTP
    bench = (ROOT / "bench" / "storage.py").read_text()
    assert f'HTTP_PROTOCOL = "{UVICORN_HTTP}"' in bench
    module, _, name = UVICORN_HTTP.partition(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).exists() and name


def test_scripts_serve_lets_the_app_decide_on_forwarded_headers() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import serve  # scripts/ is not a package

    [api, *_] = serve.parley_commands(serve.Settings.from_env({}), [])
    assert api.name == "api" and "--no-proxy-headers" in api.argv
