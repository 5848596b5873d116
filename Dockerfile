# syntax=docker/dockerfile:1
#
# Parley's production image: the API (uvicorn) and, with another command, the Celery
# worker, beat and Flower (see docker-compose.yml).
#
#   docker build -t parley \
#       --build-arg PARLEY_SOURCE=https://github.com/<owner>/parley \
#       --build-arg PARLEY_REVISION="$(git rev-parse HEAD)" .
#   docker run --rm -p 127.0.0.1:8000:8000 -v parley-data:/data \
#       -e MONGO_URI=... -e REDIS_URL=... -e PUBLIC_BASE_URL=https://... \
#       -e JWT_SECRET=... -e REFRESH_TOKEN_SECRET=... -e ENCRYPTION_KEY=... \
#       -e ADMIN_PASSWORD=... parley
#
# /data is the one writable directory (owned by the parley user): the local storage
# provider's files (/data/blobs). Mount a volume there, or they go with the container.
#
# Two stages: the builder resolves the locked dependencies with uv into /app/.venv;
# the runtime stage copies that venv and the application code only (no uv, no build
# tools, no dev group: the embedded dev servers and test tools never ship).
# Both stages must use the same base image (keep the two FROM lines equal): the venv
# links to the base image's interpreter, /usr/local/bin/python3.11.

# --------------------------------------------------------------------------- builder
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The uv version that wrote uv.lock (`uv --version`).
RUN pip install uv==0.13.9

# UV_COMPILE_BYTECODE: ship .pyc files, so start-up does not compile (and a read-only
# runtime user could not write them anyway). UV_LINK_MODE=copy: the cache is a mount on
# another filesystem, so uv cannot hard-link from it. UV_PYTHON_DOWNLOADS=never: use the image's Python.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml or uv.lock change.
# --locked: install exactly what uv.lock pins, and fail the build if uv.lock no longer
# matches pyproject.toml (--frozen would silently build from a stale lock);
# --no-dev: leave out the `dev` group; --no-install-project: Parley is run from its
# source tree (`[tool.uv] package = false`), there is nothing to build or install.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

COPY api/ ./api/
# Byte-compile the application too (hash-checked, so file times do not matter).
RUN python -m compileall -q --invalidation-mode checked-hash api

# --------------------------------------------------------------------------- runtime
FROM python:3.11-slim AS runtime

# The version is pyproject.toml's (a test keeps them equal). Where the code comes from is
# known only to whoever builds: CI passes the repository URL and the commit
# (--build-arg PARLEY_SOURCE=... --build-arg PARLEY_REVISION=...); a local build leaves
# them empty rather than name a placeholder.
ARG PARLEY_VERSION=0.1.0
ARG PARLEY_SOURCE=
ARG PARLEY_REVISION=
LABEL org.opencontainers.image.title="Parley" \
      org.opencontainers.image.description="Open multi-tenant backend for SaaS products that talk to their customers: WhatsApp, email and AI chat." \
      org.opencontainers.image.version="${PARLEY_VERSION}" \
      org.opencontainers.image.source="${PARLEY_SOURCE}" \
      org.opencontainers.image.revision="${PARLEY_REVISION}" \
      org.opencontainers.image.licenses="MIT"

# A fixed uid/gid, so volume permissions and Kubernetes' runAsNonRoot checks are stable.
# --no-log-init: no sparse lastlog/faillog entries for the uid.
RUN groupadd --system --gid 10001 parley \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /home/parley --create-home --shell /usr/sbin/nologin parley \
    && mkdir -p /data/blobs /data/outbox \
    && chown -R 10001:10001 /data \
    && chmod -R 0750 /data

WORKDIR /app
# Owned by root and read-only to the parley user: the process cannot rewrite its own code.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/api /app/api

ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    LOCAL_STORAGE_DIR=/data/blobs \
    MAIL_OUTBOX_DIR=/data/outbox

# Numeric, so orchestrators can verify the user is not root without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000

# No curl in the slim image: ask /health (liveness, no dependency calls) with urllib.
# The start period covers the lifespan waiting for MongoDB (MONGO_STARTUP_TIMEOUT_SECONDS).
# The worker, beat and Flower services override or disable this in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# --no-proxy-headers: uvicorn never trusts X-Forwarded-For/-Proto itself. The app does, from
# the proxies listed in FORWARDED_ALLOW_IPS only (default: none, the client is the TCP
# peer), so a client cannot choose the address its rate limits and audit entries name.
# --timeout-graceful-shutdown: on SIGTERM, stop accepting and give open requests and
# streams 30 s to finish, then cut them (the compose api service waits longer than that
# before SIGKILL: its stop_grace_period).
# --http: uvicorn's httptools protocol reading request bodies in a wider window, without
# copying them (api/interfaces/http/uvicorn_protocol.py; scripts/serve uses it too).
CMD ["uvicorn", "api.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--no-proxy-headers", "--timeout-graceful-shutdown", "30", "--http", "api.interfaces.http.uvicorn_protocol:ParleyHttpProtocol"]
