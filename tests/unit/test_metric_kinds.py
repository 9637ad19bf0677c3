"""What the process metrics call each outcome, and what the intake middleware counts: tables
of cases, no I/O (a tiny ASGI app stands in for intake)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from deliverers.base import (
    ContentMismatch,
    DeliveryError,
    PermanentError,
    Receipt,
    ReceiptFailed,
    Sent,
    TransientError,
)
from deliverers.metrics import outcome_kind
from deliverers.outcomes import Outcome
from relay.process_metrics import IntakeMetrics

OUTCOMES: dict[str, tuple[Outcome, str]] = {
    "receipt": (Receipt("SAK-1", "0" * 64, 201), "delivered"),
    "legacy receipt": (Receipt(None, "0" * 64, 200, proven=False), "delivered"),
    "mailbox": (Sent("message-1"), "sent"),
    "503": (TransientError("503", status_code=503, retry_after=5), "transient"),
    "400": (PermanentError("400", status_code=400), "rejected"),
    "content mismatch": (ContentMismatch(status_code=409), "rejected"),
    "feilet": (ReceiptFailed("feilet"), "rejected"),
    "other error": (DeliveryError("odd"), "rejected"),
}


@pytest.mark.parametrize(("result", "kind"), OUTCOMES.values(), ids=OUTCOMES)
def test_each_outcome_has_its_kind(result: Outcome, kind: str) -> None:
    assert outcome_kind(result) == kind


def intake_stand_in() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/ok")
    async def ok() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(IntakeMetrics)
    return app


REQUESTS: dict[str, tuple[str, str | None]] = {
    "answered": ("/v1/ok", "200"),
    "not found": ("/v1/nothing", "404"),
    "an error escaped": ("/v1/bug", "500"),
    "not an intake path": ("/healthz", None),
}


@pytest.mark.parametrize(("path", "status"), REQUESTS.values(), ids=REQUESTS)
def test_intake_requests_are_counted_by_status_and_timed(path: str, status: str | None) -> None:
    def count(labels: dict[str, Any]) -> float:
        return REGISTRY.get_sample_value("relay_intake_requests_total", labels) or 0.0

    def timed() -> float:
        return REGISTRY.get_sample_value("relay_intake_duration_seconds_count") or 0.0

    before = {s: count({"status": s}) for s in ("200", "404", "500")}
    timed_before = timed()
    with TestClient(intake_stand_in(), raise_server_exceptions=False) as client:
        client.get(path)
    grown = {s: count({"status": s}) - before[s] for s in before}
    assert grown == {s: int(s == status) for s in before}
    assert timed() - timed_before == (0 if status is None else 1)
