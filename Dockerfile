# syntax=docker/dockerfile:1
#
# Parley's production image: the API (uvicorn) and, with another command, the Celery
# worker, beat and Flower (see docker-compose.yml).
#
#   docker build -t parley .
#   docker run --rm -p 8000:8000 -e MONGO_URI=... -e REDIS_URL=... \
#       -e JWT_SECRET=... -e REFRESH_TOKEN_SECRET=... -e ADMIN_PASSWORD=... parley
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
# --frozen: install exactly what uv.lock pins, without re-resolving (it does not check
# the lock against pyproject.toml: `uv lock --check` does, before building);
# --no-dev: leave out the `dev` group; --no-install-project: Parley is run from its
# source tree (`[tool.uv] package = false`), there is nothing to build or install.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

COPY api/ ./api/
# Byte-compile the application too (hash-checked, so file times do not matter).
RUN python -m compileall -q --invalidation-mode checked-hash api

# --------------------------------------------------------------------------- runtime
FROM python:3.11-slim AS runtime

ARG PARLEY_VERSION=0.1.0
ARG PARLEY_SOURCE=https://example.com/parley
LABEL org.opencontainers.image.title="Parley" \
      org.opencontainers.image.description="Open multi-tenant backend for SaaS products that talk to their customers: WhatsApp, email and AI chat." \
      org.opencontainers.image.version="${PARLEY_VERSION}" \
      org.opencontainers.image.source="${PARLEY_SOURCE}" \
      org.opencontainers.image.licenses="MIT"

# A fixed uid/gid, so volume permissions and Kubernetes' runAsNonRoot checks are stable.
# --no-log-init: no sparse lastlog/faillog entries for the uid.
RUN groupadd --system --gid 10001 parley \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /home/parley --create-home --shell /usr/sbin/nologin parley

WORKDIR /app
# Owned by root and read-only to the parley user: the process cannot rewrite its own code.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/api /app/api

ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production

# Numeric, so orchestrators can verify the user is not root without reading /etc/passwd.
USER 10001:10001

EXPOSE 8000

# No curl in the slim image: ask /health (liveness, no dependency calls) with urllib.
# The start period covers the lifespan waiting for MongoDB (MONGO_STARTUP_TIMEOUT_SECONDS).
# The worker, beat and Flower services override or disable this in docker-compose.yml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

# --proxy-headers / --forwarded-allow-ips: in production Parley runs behind a reverse
# proxy or load balancer that terminates TLS. Trusting its X-Forwarded-For/-Proto headers
# gives the real client address (logs, rate limits) and the https scheme (redirects,
# absolute URLs). "*" trusts every peer: keep port 8000 reachable only through the proxy,
# or override the command with the proxy's address/CIDR instead of "*".
CMD ["uvicorn", "api.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--forwarded-allow-ips", "*"]
