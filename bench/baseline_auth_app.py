"""The bare baselines of ``bench/auth.py``: an authenticated one-read, and a password check.

No middleware, no dependency injection, no Beanie, no Redis: the least this stack can do
for each of the two identity requests that ``bench/auth.py`` measures in Parley.

- ``GET /users/{oid}``: verifies the ``Authorization: Bearer`` HS256 JWT with PyJWT (the
  algorithm pinned, audience and issuer checked as Parley checks them, since Parley's
  tokens carry both), requires ``X-Tenant-ID`` to equal the token's ``tid``, then reads
  ONE document of Parley's ``users`` collection by ``_id`` and ``tenant_id`` with
  ``pymongo.AsyncMongoClient`` and returns it as JSON (without the password hash and the
  MFA secret, as Parley leaves them out).
- ``POST /login``: takes ``{"email", "password"}`` and only verifies the password against
  one argon2id hash made at start-up with the same parameters Parley uses, in a worker
  thread as Parley does (``asyncio.to_thread``); 401 on a wrong password.
- ``GET /health``: answers at once, for the readiness check.

``bench/auth.py`` serves it with ``uvicorn baseline_auth_app:app --app-dir bench`` and sets
from the environment:

- ``BENCH_MONGO_URI`` (required), ``BENCH_DB_NAME`` (default ``parley_bench``);
- ``BENCH_JWT_SECRET`` (required), ``BENCH_JWT_ISSUER`` / ``BENCH_JWT_AUDIENCE`` (default
  Parley's ``parley`` / ``parley-api``);
- ``BENCH_PASSWORD`` (required: the one password ``/login`` accepts) and
  ``BENCH_ARGON2_TIME_COST`` / ``_MEMORY_COST`` (KiB) / ``_PARALLELISM`` (default Parley's
  3 / 65536 / 4).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from bson import ObjectId
from bson.errors import InvalidId
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

Users = AsyncCollection[dict[str, Any]]
_HIDDEN = {"password_hash": 0, "mfa_secret": 0}  # never sent, as in Parley's UserOut


@dataclass
class State:
    users: Users
    secret: str
    issuer: str
    audience: str
    hasher: PasswordHasher
    password_hash: str


_state: dict[str, State] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    env = os.environ
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        env["BENCH_MONGO_URI"], maxPoolSize=100, tz_aware=True, appname="bench-baseline-auth"
    )
    hasher = PasswordHasher(
        time_cost=int(env.get("BENCH_ARGON2_TIME_COST", "3")),
        memory_cost=int(env.get("BENCH_ARGON2_MEMORY_COST", "65536")),
        parallelism=int(env.get("BENCH_ARGON2_PARALLELISM", "4")),
    )
    _state["app"] = State(
        users=client[env.get("BENCH_DB_NAME", "parley_bench")]["users"],
        secret=env["BENCH_JWT_SECRET"],
        issuer=env.get("BENCH_JWT_ISSUER", "parley"),
        audience=env.get("BENCH_JWT_AUDIENCE", "parley-api"),
        hasher=hasher,
        password_hash=hasher.hash(env["BENCH_PASSWORD"]),
    )
    try:
        yield
    finally:
        _state.clear()
        await client.close()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, bool]:
    """The readiness probe ``bench/auth.py`` waits on."""
    return {"ok": True}


@app.get("/users/{oid}")
async def get_user(
    oid: str,
    authorization: Annotated[str, Header()] = "",
    x_tenant_id: Annotated[str, Header()] = "",
) -> dict[str, Any]:
    state = _state["app"]
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status_code=401)
    try:
        claims = jwt.decode(
            token,
            state.secret,
            algorithms=["HS256"],
            audience=state.audience,
            issuer=state.issuer,
        )
    except jwt.PyJWTError:
        raise HTTPException(status_code=401) from None
    tenant_id = claims.get("tid")
    if not isinstance(tenant_id, str) or tenant_id != x_tenant_id:
        raise HTTPException(status_code=403)
    try:
        key = ObjectId(oid)
    except InvalidId:
        raise HTTPException(status_code=404) from None
    document = await state.users.find_one({"_id": key, "tenant_id": tenant_id}, _HIDDEN)
    if document is None:
        raise HTTPException(status_code=404)
    document["_id"] = str(document["_id"])
    return document


class LoginIn(BaseModel):
    email: str
    password: str


@app.post("/login")
async def login(body: LoginIn) -> dict[str, bool]:
    state = _state["app"]
    try:
        await asyncio.to_thread(state.hasher.verify, state.password_hash, body.password)
    except VerificationError:
        raise HTTPException(status_code=401) from None
    return {"ok": True}
