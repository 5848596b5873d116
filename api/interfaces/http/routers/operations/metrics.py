"""`GET /metrics`: Prometheus's text format, for the platform's operators (not in the
OpenAPI schema).

The rule (see `api.config.monitoring`): with `METRICS_TOKEN` set, a scrape must send
`Authorization: Bearer <token>` (compared in constant time; else 401); without it,
`/metrics` is open outside production and not served in production (404, and no request
is counted).

A scrape reports this process's request metrics (`HttpMetrics`) and, read at that moment
from Redis with a deadline, the cluster-wide job figures: `parley_jobs_total{task,outcome}`
(counted by the workers) and `parley_queue_depth{queue}`. A figure that could not be read
in time is left out and `parley_metrics_source_up{source}` says 0.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.config import Settings
from api.domain.errors import Unauthorized
from api.interfaces.http.deps import Inject
from api.interfaces.http.middleware.metrics import HttpMetrics, MetricsMiddleware
from api.usecases.operations.read_job_metrics import JobMetrics, ReadJobMetrics

router = APIRouter(include_in_schema=False)


class _JobFigures(Collector):
    """One scrape's job figures, as Prometheus metric families."""

    def __init__(self, figures: JobMetrics) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        outcomes, depths = self._figures.outcomes, self._figures.queue_depths
        up = GaugeMetricFamily(
            "parley_metrics_source_up",
            "1 when this scrape could read the figures of the source (jobs, queues), else 0.",
            labels=["source"],
        )
        up.add_metric(["jobs"], 0 if outcomes is None else 1)
        up.add_metric(["queues"], 0 if depths is None else 1)
        yield up
        if outcomes is not None:
            jobs = CounterMetricFamily(
                "parley_jobs",
                "Job runs by task and outcome (succeeded, failed, retried, ...), all workers.",
                labels=["task", "outcome"],
            )
            for (task, outcome), count in sorted(outcomes.items()):
                jobs.add_metric([task, outcome], count)
            yield jobs
        if depths is not None:
            queue = GaugeMetricFamily(
                "parley_queue_depth", "Jobs waiting in each queue.", labels=["queue"]
            )
            for name, depth in sorted(depths.items()):
                queue.add_metric([name], depth)
            yield queue


def _authorized(request: Request, settings: Settings) -> bool:
    token = settings.metrics.metrics_token
    if token is None:
        return True  # only reachable outside production (see install_metrics)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected)


@router.get("/metrics")
async def metrics(
    request: Request,
    settings: Annotated[Settings, Inject(Settings)],
    read: Annotated[ReadJobMetrics, Inject(ReadJobMetrics)],
) -> Response:
    if not _authorized(request, settings):
        raise Unauthorized("A valid metrics token is required (Authorization: Bearer).")
    own: HttpMetrics = request.app.state.http_metrics
    figures = CollectorRegistry(auto_describe=False)
    figures.register(_JobFigures(await read.execute(settings.metrics.metrics_read_timeout_seconds)))
    body = generate_latest(own.registry) + generate_latest(figures)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)


def install_metrics(app: FastAPI, settings: Settings) -> None:
    """Serve `/metrics` and count requests, when the rule allows. Call it after the other
    middlewares are added: the counting one then runs first and sees every response."""
    if not settings.metrics_served:
        return
    http_metrics = HttpMetrics()
    app.state.http_metrics = http_metrics
    app.include_router(router)
    app.add_middleware(MetricsMiddleware, metrics=http_metrics)
