"""The counters and histograms of the stages, on real ledgers (SQLite, and PostgreSQL where
available) with fake case systems: each attempt, read-back and reconciliation counted by
its outcome, false receipts with the time since the receipt; intake requests and the
`/metrics` answer of the real intake app; alerts sent and failed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine

from deliverers.base import Deliverer, PermanentError, StoredCopy, TransientError
from deliverers.fiks_io import MOTTATT
from deliverers.proof import reconcile_recipient
from intake.meldingstyper import PRIVAT_V2
from ledger.alerts import Alert
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from relay.alert_webhook import send_alerts
from relay.bootstrap import Container
from relay.settings import Settings
from relay.wiring import intake_app
from tests.support.clock import T0
from tests.support.fakes import FakeCaseSystem, FakeMailbox
from tests.support.ledger import TEST_KEYS
from tests.support.reports import submission
from tests.support.stages import BERGEN, OSLO, Stages, received, routed

pytestmark = pytest.mark.integration

CANARY = "Kanarifugl Hvilested-Åsmund"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Change:
    """How much each named sample grew between `Change(...)` and `.by()`."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [value(name, **labels) for name, labels in samples]

    def by(self) -> list[float]:
        return [
            value(name, **labels) - before
            for (name, labels), before in zip(self.samples, self.before, strict=True)
        ]


def attempts(recipient: str, outcome: str) -> tuple[str, dict[str, str]]:
    return "relay_delivery_attempts_total", {"recipient": recipient, "outcome": outcome}


OUTCOMES: dict[str, tuple[Callable[[], Deliverer], str, str]] = {
    "a stored report": (FakeCaseSystem, BERGEN, "delivered"),
    "a mailbox's acceptance": (FakeMailbox, OSLO, "sent"),
    "a 503": (lambda: FakeCaseSystem(TransientError("503", status_code=503)), BERGEN, "transient"),
    "a refusal": (
        lambda: FakeCaseSystem(PermanentError("400", status_code=400)),
        BERGEN,
        "rejected",
    ),
}


@pytest.mark.parametrize(("make", "kommunenummer", "outcome"), OUTCOMES.values(), ids=OUTCOMES)
def test_each_attempt_is_counted_by_recipient_and_outcome_and_timed(
    stages: Stages, make: Callable[[], Deliverer], kommunenummer: str, outcome: str
) -> None:
    recipient = "bergen" if kommunenummer == BERGEN else "oslo"
    report_id = routed(stages.engine, stages.table, stages.clock, kommunenummer)
    change = Change(
        attempts(recipient, outcome),
        ("relay_delivery_duration_seconds_count", {"recipient": recipient}),
    )
    stages.deliver(report_id, make())
    assert change.by() == [1, 1]


class UnreadableCaseSystem(FakeCaseSystem):
    def read_back(self, report_id: str) -> StoredCopy | None:
        raise TransientError("read-back timed out")


def keep(case_system: FakeCaseSystem, report_id: str) -> None:
    """The case system keeps the report as it was sent."""


READ_BACKS: dict[str, tuple[type[FakeCaseSystem], Callable[..., None], str, int]] = {
    "stored": (FakeCaseSystem, keep, "verified", 0),
    "lost": (FakeCaseSystem, FakeCaseSystem.lose, "missing", 1),
    "damaged": (FakeCaseSystem, FakeCaseSystem.damage, "mismatch", 1),
    "unreadable": (UnreadableCaseSystem, keep, "error", 0),
}


@pytest.mark.parametrize(("kind", "fault", "result", "false"), READ_BACKS.values(), ids=READ_BACKS)
def test_read_backs_are_counted_by_result_and_false_receipts_with_their_delay(
    stages: Stages,
    kind: type[FakeCaseSystem],
    fault: Callable[[FakeCaseSystem, str], None],
    result: str,
    false: int,
) -> None:
    case_system = kind()
    report_id = stages.delivered(case_system)
    fault(case_system, report_id)
    stages.clock.advance(75)
    bergen = {"recipient": "bergen"}
    change = Change(
        ("relay_readbacks_total", {**bergen, "result": result}),
        ("relay_false_receipts_total", bergen),
        ("relay_false_receipt_detection_seconds_count", bergen),
        ("relay_false_receipt_detection_seconds_sum", bergen),
    )
    stages.verify(report_id, case_system)
    assert change.by() == [1, false, false, 75 * false]


def test_a_mailbox_report_is_counted_as_proven_by_its_receipt_only(stages: Stages) -> None:
    mailbox = FakeMailbox()
    report_id = stages.awaiting(mailbox)
    ours = mailbox.deliveries[-1].sha256
    stages.receive(report_id, MOTTATT, {"saksreferanse": "2026/117", "sha256": ours})
    change = Change(("relay_readbacks_total", {"recipient": "oslo", "result": "receipt-only"}))
    stages.verify(report_id, mailbox)
    assert change.by() == [1]


class UnlistableCaseSystem(FakeCaseSystem):
    def list_since(self, since: object) -> set[str]:
        raise TransientError("listing timed out")


def test_reconciliation_counts_its_result_and_a_false_receipt_from_the_receipts_time(
    stages: Stages,
) -> None:
    case_system = FakeCaseSystem()
    kept, lost = stages.delivered(case_system), stages.delivered(case_system)
    stages.clock.advance(60)
    assert stages.verify(lost, case_system) is State.VERIFIED  # verified a minute later
    case_system.lose(lost)
    stages.clock.advance(3540)  # found an hour after its receipt
    bergen = {"recipient": "bergen"}
    since = T0 - timedelta(days=1)
    change = Change(
        ("relay_reconciliations_total", {**bergen, "result": "missing"}),
        ("relay_reconciliations_total", {**bergen, "result": "ok"}),
        ("relay_reconciliations_total", {**bergen, "result": "error"}),
        ("relay_false_receipts_total", bergen),
        ("relay_false_receipt_detection_seconds_sum", bergen),
    )

    def reconcile(case_system: FakeCaseSystem) -> list[str]:
        return reconcile_recipient(
            stages.uow, "bergen", since, deliverer=case_system, now=stages.clock
        ).missing

    assert reconcile(case_system) == [lost]
    assert stages.deliver(lost, case_system) is State.DELIVERED
    assert reconcile(case_system) == []  # ok: both are in its list again
    reconcile(UnlistableCaseSystem())
    assert change.by() == [1, 1, 1, 1, 3600]
    assert sorted(case_system.stored) == sorted([kept, lost])


@pytest.fixture
def container(ledger_engine: Engine) -> Iterator[Container]:
    settings = Settings(intake_tokens=SecretStr(f"portal:{'t' * 40}"))
    container = Container(settings, ledger_engine, httpx.Client())
    container.keys = TEST_KEYS
    yield container
    container.http.close()


def test_the_intake_app_counts_its_requests_and_serves_metrics_without_content(
    container: Container,
) -> None:
    auth = {"Authorization": f"Bearer {'t' * 40}"}
    change = Change(
        ("relay_intake_requests_total", {"status": "202"}),
        ("relay_intake_requests_total", {"status": "401"}),
        ("relay_intake_duration_seconds_count", {}),
    )
    with TestClient(intake_app(container)) as client:
        body = submission(PRIVAT_V2, text=f"{CANARY} bor her")
        assert client.post("/v1/reports", json=body, headers=auth).status_code == 202
        assert client.post("/v1/reports", json=body).status_code == 401
        assert client.get("/healthz").status_code == 200  # not an intake request
        page = client.get("/metrics")
    assert change.by() == [1, 1, 2]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    assert CANARY.split()[0] not in page.text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }
    assert samples[("relay_reports", (("recipient", ""), ("state", "RECEIVED")))] == 1
    assert samples[("relay_outbox_unpublished", ())] == 1
    assert samples[("relay_intake_requests_total", (("status", "202"),))] >= 1


def test_alerts_are_counted_as_sent_or_failed(ledger_engine: Engine) -> None:
    heard, unheard = received(ledger_engine), received(ledger_engine)
    with UnitOfWork(ledger_engine) as uow:
        for report_id in (heard, unheard):
            uow.alerts.raise_once(Alert(report_id, "held", None, "HELD", "no route", T0))
        uow.commit()

    def answer(request: httpx.Request) -> httpx.Response:
        """The webhook answers 503 to the alert of `unheard`."""
        return httpx.Response(503 if unheard in request.read().decode() else 200)

    change = Change(
        ("relay_alerts_total", {"result": "sent"}), ("relay_alerts_total", {"result": "failed"})
    )
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        sent = send_alerts(
            lambda: UnitOfWork(ledger_engine), http, "http://alerts.invalid/hook", lambda: T0
        )
    assert sent == 1
    assert change.by() == [1, 1]
