"""fiks-io receipts and their deadlines, stage by stage, on real ledgers with a fake
mailbox (SQLite needs no services): what each receipt does to the report awaiting it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from deliverers.fiks_io import FEILET, MOTTATT
from deliverers.stage import Claim, body_for, claim_attempt
from ledger.digest import sha256_hex
from ledger.lifecycle import State
from tests.support.clock import T0
from tests.support.fakes import FakeMailbox
from tests.support.stages import (
    CONTROL,
    OSLO,
    RECEIPT_DEADLINE,
    Stages,
    history,
    report,
    routed,
)

pytestmark = pytest.mark.integration

FIRST_RETRY_SECONDS = 5.0  # CONTROL's base of 10 s, with the jitter the stages fix at 0.5


ReceiptBody = Callable[[str], dict[str, str]]  # from the hash of what we sent


@pytest.mark.parametrize(
    ("receipt_type", "body", "state", "kind", "reason"),
    [
        pytest.param(
            MOTTATT,
            lambda ours: {"saksreferanse": "2026/117", "sha256": ours},
            State.DELIVERED,
            None,
            None,
            id="mottatt-our-hash",
        ),
        pytest.param(
            MOTTATT,
            lambda ours: {"saksreferanse": "2026/117", "sha256": "0" * 64},
            State.DEAD_LETTERED,
            "content-mismatch",
            "content mismatch",
            id="mottatt-another-hash",
        ),
        pytest.param(
            FEILET,
            lambda ours: {"melding": "Mottak feilet"},
            State.DEAD_LETTERED,
            "receipt-failed",
            "feilet: Mottak feilet",
            id="feilet",
        ),
    ],
)
def test_a_receipt_settles_the_report_awaiting_it(
    stages: Stages,
    receipt_type: str,
    body: ReceiptBody,
    state: State,
    kind: str | None,
    reason: str | None,
) -> None:
    mailbox = FakeMailbox()
    report_id = stages.awaiting(mailbox)
    assert stages.receive(report_id, receipt_type, body(mailbox.deliveries[-1].sha256)) is state
    settled = report(stages.engine, report_id)
    assert (settled.state_kind, settled.state_reason) == (kind, reason)
    with stages.uow() as uow:
        last = uow.reports.history(report_id)[-1]
    assert (last.from_state, last.actor) == (State.AWAITING_RECEIPT, "receipts")
    assert last.detail is not None
    assert last.detail["receipt"] == receipt_type


def test_a_strict_mottatt_records_the_reference_and_our_hash(stages: Stages) -> None:
    mailbox = FakeMailbox()
    report_id = stages.awaiting(mailbox)
    ours = mailbox.deliveries[-1].sha256
    stages.receive(report_id, MOTTATT, {"saksreferanse": "2026/117", "sha256": ours})
    delivered = report(stages.engine, report_id)
    assert (delivered.saksreferanse, delivered.delivery_sha256) == ("2026/117", ours)


def test_a_receipt_arriving_while_the_attempt_is_still_delivering_is_accepted(
    stages: Stages,
) -> None:
    report_id = routed(stages.engine, stages.table, stages.clock, OSLO)
    claim = claim_attempt(
        stages.uow(),
        report_id,
        control_for=lambda recipient: CONTROL,
        now=stages.clock,
        jitter=lambda: 0.5,
    )
    assert isinstance(claim, Claim)
    ours = sha256_hex(body_for(claim.report, claim.document))  # what the worker is sending
    receipt = {"saksreferanse": "2026/118", "sha256": ours}
    assert stages.receive(report_id, MOTTATT, receipt) is State.DELIVERED
    assert history(stages.engine, report_id)[-2:] == [
        (State.ROUTED, State.DELIVERING),
        (State.DELIVERING, State.DELIVERED),
    ]


def not_sent_yet(stages: Stages, mailbox: FakeMailbox) -> str:
    return routed(stages.engine, stages.table, stages.clock, OSLO)


def already_delivered(stages: Stages, mailbox: FakeMailbox) -> str:
    report_id = stages.awaiting(mailbox)
    ours = mailbox.deliveries[-1].sha256
    stages.receive(report_id, MOTTATT, {"saksreferanse": "2026/117", "sha256": ours})
    return report_id


def past_its_deadline(stages: Stages, mailbox: FakeMailbox) -> str:
    report_id = stages.awaiting(mailbox)
    stages.clock.advance(RECEIPT_DEADLINE)
    assert stages.enforce_deadlines() == 1
    return report_id


def unknown(stages: Stages, mailbox: FakeMailbox) -> str:
    return str(uuid.uuid4())


@pytest.mark.parametrize(
    "setup", [not_sent_yet, already_delivered, past_its_deadline, unknown], ids=lambda f: f.__name__
)
def test_a_receipt_for_a_report_not_awaiting_one_is_ignored(
    stages: Stages, setup: Callable[[Stages, FakeMailbox], str]
) -> None:
    mailbox = FakeMailbox()
    report_id = setup(stages, mailbox)
    before = history(stages.engine, report_id)
    receipt = {"saksreferanse": "2026/119", "sha256": "0" * 64}
    assert stages.receive(report_id, MOTTATT, receipt) is None
    assert history(stages.engine, report_id) == before


# -- receipt deadlines -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("waited", "moved", "state"),
    [
        pytest.param(RECEIPT_DEADLINE - 1, 0, State.AWAITING_RECEIPT, id="before-the-deadline"),
        pytest.param(RECEIPT_DEADLINE, 1, State.RETRY_SCHEDULED, id="at-the-deadline"),
    ],
)
def test_a_receipt_deadline_acts_only_once_it_has_passed(
    stages: Stages, waited: float, moved: int, state: State
) -> None:
    report_id = stages.awaiting(FakeMailbox())
    stages.clock.advance(waited)
    assert stages.enforce_deadlines() == moved
    assert report(stages.engine, report_id).state is state


def test_a_missed_receipt_deadline_is_a_failed_attempt_with_a_retry(stages: Stages) -> None:
    report_id = stages.awaiting(FakeMailbox())
    stages.clock.advance(RECEIPT_DEADLINE)
    stages.enforce_deadlines()
    retrying = report(stages.engine, report_id)
    assert (retrying.state_kind, retrying.state_reason) == (
        "retrying",
        "no receipt within 600 s",
    )
    assert retrying.attempts == 1
    assert retrying.receipt_due_at is None
    assert retrying.next_attempt_at == T0 + timedelta(
        seconds=RECEIPT_DEADLINE + FIRST_RETRY_SECONDS
    )
    with stages.uow() as uow:
        assert uow.health.get("oslo").consecutive_failures == 1
        last = uow.reports.history(report_id)[-1]
    assert (last.actor, last.detail) == (
        "scheduler",
        {
            "attempt": 1,
            "status_code": None,
            "error": "TransientError",
            "retry_in_seconds": FIRST_RETRY_SECONDS,
        },
    )
