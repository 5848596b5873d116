"""The fuzzed app: Parley on the tests' real servers (Mongo-wire, Redis) and the fake LLM,
served over TCP from a background thread (`LiveApp`), with a fresh tenant, its owner and
the platform admin signed in for every fuzzed operation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
import pytest
import redis
import requests

from api.config import AuthSettings, JobSettings, Settings
from api.usecases.identity.ensure_platform_admin import EnsurePlatformAdmin
from api.usecases.tenants.create_tenant import CreatedTenant, CreateTenant
from api.usecases.tenants.rules import OPERATOR
from tests.support.ai_stack import ai_settings
from tests.support.live_app import LiveApp
from tests.support.onboarding import OWNER_PASSWORD
from tests.support.settings import ADMIN_EMAIL, ADMIN_PASSWORD, redis_db

OWNER_EMAIL = "owner@acme.example.com"
BROKER_DB = 3  # the fuzzed app's job queue (3) and results (4): apart from other tests' (1, 2)

# Generous limits: the fuzzer should reach each route's logic, not its rate limit (429 and
# lockouts are tested in tests/e2e/identity).
_NO_THROTTLE = {
    "login_rate_per_ip": 1_000_000,
    "login_rate_per_account": 1_000_000,
    "sensitive_rate_per_ip": 1_000_000,
    "lockout_threshold": 1_000_000,
}


def fuzz_settings(
    mongo_url: str, redis_url: str, db_name: str, llm_url: str, blobs: Path
) -> Settings:
    settings = ai_settings(mongo_url, redis_url, db_name, llm_url)
    auth = settings.auth.model_dump() | _NO_THROTTLE
    jobs = settings.jobs.model_dump() | {
        "celery_broker_url": redis_db(redis_url, BROKER_DB),
        "celery_result_backend": redis_db(redis_url, BROKER_DB + 1),
    }
    settings = settings.model_copy(
        update={
            "auth": AuthSettings(_env_file=None, **auth),
            "jobs": JobSettings(_env_file=None, **jobs),
        }
    )
    settings.storage.local_storage_dir = str(blobs)
    return settings


@pytest.fixture(scope="module")
def live(
    mongo_url: str, redis_url: str, db_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApp]:
    """Parley and the fake LLM, on a database and job queue of their own (dropped
    afterwards, so that no other test's worker meets the jobs fuzzing queued)."""
    fuzz_db = f"{db_name}_fuzz"
    blobs = tmp_path_factory.mktemp("fuzz-blobs")
    with LiveApp(lambda llm: fuzz_settings(mongo_url, redis_url, fuzz_db, llm, blobs)) as app:
        yield app
    with pymongo.MongoClient[dict[str, object]](mongo_url) as client:
        client.drop_database(fuzz_db)
    for db in (BROKER_DB, BROKER_DB + 1):
        with redis.Redis.from_url(redis_db(redis_url, db)) as queue:
            queue.flushdb()


@dataclass
class World:
    """The fuzzed app's state: one tenant, its owner and the platform admin, signed in.

    `reset()` starts it afresh: every collection emptied (indexes kept), the app's Redis
    database flushed, the admin and the tenant with its owner created again.
    """

    live: LiveApp
    http: requests.Session
    mongo_url: str
    redis_url: str
    tenant_id: str = ""
    owner: dict[str, str] = field(default_factory=dict)
    admin: dict[str, str] = field(default_factory=dict)

    def reset(self) -> None:
        self._wipe()
        container = self.live.container
        self.live.run(container.resolve(EnsurePlatformAdmin).execute(ADMIN_EMAIL, ADMIN_PASSWORD))
        onboarded: CreatedTenant = self.live.run(
            container.resolve(CreateTenant).execute(
                OPERATOR, name="Acme", subdomain="acme", owner_email=OWNER_EMAIL,
                owner_full_name="Olivia Owner", owner_password=OWNER_PASSWORD,
            )
        )  # fmt: skip
        self.tenant_id = onboarded.tenant.id or ""
        self.owner = self.sign_in_again(admin=False)
        self.admin = self.sign_in_again(admin=True)

    def sign_in_again(self, *, admin: bool) -> dict[str, str]:
        """Fresh headers of a new session of the admin or the owner."""
        if admin:
            return self._sign_in(ADMIN_EMAIL, ADMIN_PASSWORD, None)
        return self._sign_in(OWNER_EMAIL, OWNER_PASSWORD, self.tenant_id)

    def _sign_in(self, email: str, password: str, tenant_id: str | None) -> dict[str, str]:
        headers = {"X-Tenant-ID": tenant_id} if tenant_id else {}
        response = self.http.post(
            f"{self.live.url}/api/v1/auth/login",
            json={"email": email, "password": password},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}", **headers}

    def _wipe(self) -> None:
        assert self.live.settings is not None
        with pymongo.MongoClient[dict[str, object]](self.mongo_url) as client:
            database = client[self.live.settings.mongo.db_name]
            for name in database.list_collection_names():
                database[name].delete_many({})
        with redis.Redis.from_url(self.redis_url) as cache:
            cache.flushdb()


@pytest.fixture
def world(live: LiveApp, mongo_url: str, redis_url: str) -> Iterator[World]:
    """A fresh world for each fuzzed operation."""
    with requests.Session() as http:
        world = World(live, http, mongo_url, redis_url)
        world.reset()
        yield world


def fuzz_examples(default: int) -> int:
    """Examples per operation: `FUZZ_EXAMPLES` in the environment, else `default`."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))
