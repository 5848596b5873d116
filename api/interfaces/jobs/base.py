"""The base of every Parley task: context, idempotency, retries, failure records.

A task is declared with `@parley_task("parley.x.y")` over an `async def body(container,
**ids)`. For each run the base:

1. restores the tenant and request ids the job was queued with (message headers) and
   clears them afterwards;
2. claims the job id atomically (Redis `SET NX`) so a redelivered copy of a job that is
   running or done is skipped (unless the task is declared `guarded=False`: its body
   claims its own work, e.g. the send job's claim on its message);
3. runs the body on the worker process's long-lived event loop, cancelled after
   `JOB_TIME_LIMIT_SECONDS` (a limit that holds in every pool, threads included);
4. retries `TemporaryFailure`, `ServiceUnavailable` and timeouts with exponential backoff
   and full jitter up to `JOB_MAX_RETRIES`; queues a `Deferred` job again as it is (its
   attempts untouched) after the delay it asks for; anything else fails at once;
5. records a job that fails for good in `failed_jobs` and logs it with its request id.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import punq
from celery import Celery, Task
from celery.exceptions import Retry

from api.common.clock import utcnow
from api.common.request_context import request_id_var
from api.domain.errors import Deferred, ServiceUnavailable, TemporaryFailure
from api.domain.jobs import FailedJob, IdempotencyGuard
from api.domain.tenancy import TenantId, tenant_context
from api.usecases.operations.failed_jobs import RecordFailedJob

log = logging.getLogger("parley.jobs")
T = TypeVar("T")

TENANT_HEADER = "parley_tenant_id"
REQUEST_HEADER = "parley_request_id"
RETRYABLE = (TemporaryFailure, ServiceUnavailable, TimeoutError)
_SCALARS = (str, int, float, bool)
_last_attempt: ContextVar[bool] = ContextVar("parley_job_last_attempt", default=True)


def is_last_attempt() -> bool:
    """Inside a task body: True when a failure now will not be retried."""
    return _last_attempt.get()


DONE_KEEP = timedelta(days=7)


class JobRuntime(Protocol):
    """What the worker process gives tasks: its container and its event loop."""

    container: punq.Container
    max_retries: int
    backoff_seconds: float
    backoff_max_seconds: float

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run on the process's event loop; on `timeout` the coroutine is cancelled and
        `TimeoutError` raised (the time limit that also holds in the threads pool)."""
        ...

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Start `coroutine` on the process's event loop without waiting for it."""
        ...


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(cap, base * 2^attempt)]."""
    ceiling = min(cap, base * (2**attempt))
    return random.uniform(min(base / 2, ceiling), ceiling)  # noqa: S311 - not cryptographic


Body = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class RetryPolicy:
    """How a task retries: `max_retries` after the first attempt, delays by `backoff`; with
    `honor_retry_after`, an error's `retry_after` (a provider's rate limit) is waited at
    least, up to the cap."""

    max_retries: int
    backoff_seconds: float
    backoff_max_seconds: float
    honor_retry_after: bool = False

    def countdown(self, retries: int, exc: BaseException) -> float:
        delay = backoff(retries, self.backoff_seconds, self.backoff_max_seconds)
        retry_after = getattr(exc, "retry_after", None)
        if self.honor_retry_after and isinstance(retry_after, int | float):
            delay = max(delay, min(float(retry_after), self.backoff_max_seconds))
        return delay


# A task's own policy, from the worker's container (else the runtime's JOB_* defaults).
PolicyOf = Callable[[punq.Container], RetryPolicy]


@dataclass(frozen=True)
class Delivery:
    task_id: str
    tenant_id: str | None
    request_id: str
    retries: int
    last_attempt: bool


# celery ships no type information, so `Task` is `Any` to mypy: subclassing it is the edge.
class ParleyTask(Task):  # type: ignore[misc]
    abstract = True
    parley_retry_policy: tuple[PolicyOf, ...] = ()  # a tuple, so it never binds as a method
    parley_guarded = True  # the idempotency guard's claim around the body (step 2)

    def retry_policy(self) -> RetryPolicy:
        runtime = self.runtime
        if self.parley_retry_policy:
            return self.parley_retry_policy[0](runtime.container)
        return RetryPolicy(
            runtime.max_retries, runtime.backoff_seconds, runtime.backoff_max_seconds
        )

    @property
    def runtime(self) -> JobRuntime:
        runtime: JobRuntime = self.app.parley_runtime()
        return runtime

    def _delivery(self) -> Delivery:
        """What this delivery of the job carries (read here: `self.request` is per thread)."""
        request = self.request
        retries = int(request.retries or 0)
        return Delivery(
            task_id=str(request.id),
            tenant_id=getattr(request, TENANT_HEADER, None),
            request_id=getattr(request, REQUEST_HEADER, None) or str(request.id),
            retries=retries,
            last_attempt=retries >= self.retry_policy().max_retries,
        )

    async def _guarded(self, body: Body, kwargs: dict[str, Any], delivery: Delivery) -> Any:
        """On the worker's loop: restore the context, claim the job, run the body."""
        token = request_id_var.set(delivery.request_id)
        tenant = TenantId(delivery.tenant_id) if delivery.tenant_id else None
        try:
            with tenant_context(tenant):
                container = self.runtime.container
                _last_attempt.set(delivery.last_attempt)
                if not self.parley_guarded:
                    return await body(container, **kwargs)
                guard: IdempotencyGuard = container.resolve(IdempotencyGuard)
                key = f"{self.name}:{delivery.task_id}"
                hold = int(self.app.conf.task_time_limit or 300) + 30
                if not await guard.claim(key, hold):
                    log.info("skipped %s %s: running or done already", self.name, delivery.task_id)
                    return None
                try:
                    result = await body(container, **kwargs)
                except BaseException:
                    await guard.release(key)
                    raise
                await guard.complete(key, int(DONE_KEEP.total_seconds()))
                return result
        finally:
            request_id_var.reset(token)

    def run_body(self, body: Body, kwargs: dict[str, Any]) -> Any:
        runtime = self.runtime
        delivery = self._delivery()
        try:
            limit = float(self.app.conf.task_time_limit or 300)
            return runtime.run(self._guarded(body, kwargs, delivery), timeout=limit)
        except Deferred as exc:
            # Queued again as it is (same attempt count, tenant and request id); this
            # delivery ends here, holding no thread while it waits.
            log.info("%s deferred %.1fs: %s", self.name, exc.retry_after, exc)
            self.apply_async(
                kwargs=kwargs, countdown=exc.retry_after, retries=delivery.retries,
                headers={TENANT_HEADER: delivery.tenant_id, REQUEST_HEADER: delivery.request_id},
            )  # fmt: skip
            return None
        except RETRYABLE as exc:
            if delivery.last_attempt:
                raise
            policy = self.retry_policy()
            countdown = policy.countdown(delivery.retries, exc)
            log.warning(
                "%s failed (%s); retry %d in %.1fs",
                self.name, type(exc).__name__, delivery.retries + 1, countdown,
            )  # fmt: skip
            raise self.retry(exc=exc, countdown=countdown, max_retries=policy.max_retries) from exc

    def on_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: Sequence[object],
        kwargs: Mapping[str, object] | None,
        einfo: object,
    ) -> None:
        if isinstance(exc, Retry):
            return
        tenant = getattr(self.request, TENANT_HEADER, None)
        request_id = getattr(self.request, REQUEST_HEADER, None)
        failed = FailedJob(
            task=self.name,
            task_id=task_id,
            tenant_id=tenant,
            request_id=request_id,
            arguments={k: v for k, v in (kwargs or {}).items() if isinstance(v, _SCALARS)},
            error_type=type(exc).__name__,
            error=str(exc)[:500],
            attempts=int(self.request.retries or 0) + 1,
            failed_at=utcnow(),
        )
        log.error(
            "job %s %s failed for good after %d attempt(s): %s (tenant=%s request=%s)",
            self.name, task_id, failed.attempts, failed.error_type, tenant, request_id,
        )  # fmt: skip
        try:
            self.runtime.run(self.runtime.container.resolve(RecordFailedJob).execute(failed))
        except Exception:
            log.exception("could not record the failed job %s", task_id)


_DECLARED: list[tuple[str, Body, dict[str, Any]]] = []


def parley_task(
    name: str, *, retry_policy: PolicyOf | None = None, guarded: bool = True, **options: Any
) -> Callable[[Body], Body]:
    """Declare a task whose body is `async def body(container, **ids)`; see `register_tasks`.
    `retry_policy` gives the task retries of its own (read from the worker's container).
    `guarded=False` runs the body without the idempotency guard (step 2): only for a body
    that claims its work itself, atomically and durably, so a redelivered copy finds it
    held or done and does nothing twice; it saves the guard's two Redis round trips."""
    if retry_policy is not None:
        options["parley_retry_policy"] = (retry_policy,)
    if not guarded:
        options["parley_guarded"] = False

    def declare(body: Body) -> Body:
        _DECLARED.append((name, body, options))
        return body

    return declare


def register_tasks(app: Celery) -> None:
    """Bind every declared task to the Celery `app` (called once by the worker)."""
    for name, body, options in _DECLARED:

        def run(task: ParleyTask, body: Body = body, **kwargs: Any) -> Any:
            return task.run_body(body, kwargs)

        run.__name__ = body.__name__
        app.task(name=name, base=ParleyTask, bind=True, **options)(run)
