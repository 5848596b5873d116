# shellcheck shell=bash
# Shared by scripts/serve and scripts/test (sourced, not run): find or install uv,
# then install Parley's locked dependencies into .venv.

parley_say() {
    printf '\n==> %s\n' "$*"
}

parley_die() {
    printf 'parley: %s\n' "$*" >&2
    exit 1
}

# Puts uv on PATH, installing it from PyPI into the user's site when it is missing.
parley_ensure_uv() {
    command -v uv >/dev/null 2>&1 && return 0
    command -v python3 >/dev/null 2>&1 \
        || parley_die "uv is not installed and there is no python3 to install it with"
    parley_add_uv_to_path && return 0
    parley_say "uv not found: installing it from PyPI (pip install --user uv)"
    python3 -m pip install --user --quiet uv 2>/dev/null \
        || python3 -m pip install --user --quiet --break-system-packages uv \
        || parley_die "could not install uv with pip; install uv yourself, then run this again"
    parley_add_uv_to_path || parley_die "uv was installed but cannot be found; add it to PATH"
}

# Finds a pip-installed uv (user site, or python3's own scripts directory).
parley_add_uv_to_path() {
    local dir
    for dir in "$(python3 -m site --user-base)/bin" \
        "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"; do
        if [[ -x "$dir/uv" ]]; then
            export PATH="$dir:$PATH"
            return 0
        fi
    done
    return 1
}

# Installs exactly the locked dependencies (uv.lock) into .venv.
parley_sync() {
    parley_ensure_uv
    parley_say "uv sync --frozen"
    uv sync --frozen
}

# Installs Azurite (the Azure Blob emulator the tests start) into scripts/azurite from its
# lock file, when it is missing or older than the lock file. Without npm it says so and
# carries on: the Azure storage tests are then skipped (they fail when CI is set).
parley_ensure_azurite() {
    local dir=scripts/azurite
    if [[ -x $dir/node_modules/.bin/azurite-blob \
        && ! $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        printf 'parley: npm not found, so Azurite (the Azure Blob emulator) cannot be installed;\n' >&2
        printf 'parley: the Azure storage tests will be skipped. Install Node.js 20+ with npm,\n' >&2
        printf 'parley: or set AZURE_STORAGE_CONNECTION_STRING to a running Azurite.\n' >&2
        return 0
    fi
    parley_say "npm ci --prefix $dir (Azurite, the Azure Blob emulator)"
    npm ci --prefix "$dir" --no-audit --no-fund
}
