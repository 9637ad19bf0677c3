"""The relay's own process metrics: intake requests (an ASGI middleware around the intake
app, so that intake itself knows nothing of Prometheus) and alerts sent to the webhook.

Made on first use, in prometheus_client's default registry, like `deliverers.metrics`.
Labels: the HTTP status code, the alert's result; nothing of a request's body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from prometheus_client import Counter, Histogram

INTAKE_PATHS = "/v1/"  # the portal-facing API; not /metrics, /healthz or the docs
INTAKE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ALERT_RESULTS = ("sent", "failed")


@dataclass(frozen=True)
class IntakeRequestMetrics:
    intake_requests: Counter
    intake_duration: Histogram


@cache
def intake_metrics() -> IntakeRequestMetrics:
    return IntakeRequestMetrics(
        intake_requests=Counter(
            "relay_intake_requests",
            "Requests to the intake API (/v1/…) by HTTP status code.",
            ["status"],
        ),
        intake_duration=Histogram(
            "relay_intake_duration_seconds",
            "How long the intake API took to answer a request (/v1/…).",
            buckets=INTAKE_BUCKETS,
        ),
    )


@cache
def alert_metrics() -> Counter:
    """Made, with both results at 0, by the process that sends alerts when it starts."""
    alerts = Counter(
        "relay_alerts",
        "Alerts posted to the webhook: sent (a 2xx) or failed (tried again).",
        ["result"],
    )
    for result in ALERT_RESULTS:
        alerts.labels(result)
    return alerts


def alert_posted(sent: bool) -> None:
    alert_metrics().labels("sent" if sent else "failed").inc()


class IntakeMetrics:
    """ASGI middleware: counts each intake request by status and times it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.metrics = intake_metrics()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(INTAKE_PATHS):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers: an error escaped it

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.intake_requests.labels(str(status)).inc()
            self.metrics.intake_duration.observe(time.perf_counter() - started)
