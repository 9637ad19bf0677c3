"""Proof of delivery stage by stage, on real ledgers with fake case systems (SQLite needs no
services): read-back of a delivered report, and reconciliation of a recipient's list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from deliverers.base import StoredCopy
from deliverers.fiks_io import MOTTATT
from deliverers.proof import ReadBackPass, reconcile_recipient, verify_delivered
from ledger.lifecycle import State
from router.routes import load_routes
from tests.support.clock import T0, Clock
from tests.support.fakes import FakeCaseSystem, FakeMailbox
from tests.support.stages import (
    BERGEN,
    OSLO,
    Stages,
    history,
    outbox_queues,
    report,
    routed,
)

pytestmark = pytest.mark.integration

UP_TO_DELIVERED = [
    (None, State.RECEIVED),
    (State.RECEIVED, State.ROUTED),
    (State.ROUTED, State.DELIVERING),
    (State.DELIVERING, State.DELIVERED),
]


def keep(case_system: FakeCaseSystem, report_id: str) -> None:
    """The case system keeps the report as it was sent."""


# -- read-back -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "state", "transitions", "kind"),
    [
        pytest.param(keep, State.VERIFIED, [(State.DELIVERED, State.VERIFIED)], None, id="stored"),
        pytest.param(
            FakeCaseSystem.lose,
            State.ROUTED,
            [(State.DELIVERED, State.MISSING), (State.MISSING, State.ROUTED)],
            None,
            id="lost",
        ),
        pytest.param(
            FakeCaseSystem.damage,
            State.DEAD_LETTERED,
            [(State.DELIVERED, State.DEAD_LETTERED)],
            "content-mismatch",
            id="damaged",
        ),
    ],
)
def test_read_back_judges_the_copy_the_case_system_holds(
    stages: Stages,
    fault: Callable[[FakeCaseSystem, str], None],
    state: State,
    transitions: list[tuple[State, State]],
    kind: str | None,
) -> None:
    case_system = FakeCaseSystem()
    report_id = stages.delivered(case_system)
    fault(case_system, report_id)
    stages.clock.advance(60)
    assert stages.verify(report_id, case_system) is state
    assert history(stages.engine, report_id) == UP_TO_DELIVERED + transitions
    assert report(stages.engine, report_id).state_kind == kind


def test_a_report_moved_on_during_its_read_back_is_left_as_it_is(stages: Stages) -> None:
    case_system = FakeCaseSystem()
    report_id = stages.delivered(case_system)
    stages.clock.advance(60)

    class VerifiedMeanwhile(FakeCaseSystem):
        """Another read-back records the report while this one is reading it."""

        def read_back(self, report_id: str) -> StoredCopy | None:
            assert stages.verify(report_id, case_system) is State.VERIFIED
            return case_system.read_back(report_id)

    assert stages.verify(report_id, VerifiedMeanwhile()) is None
    assert history(stages.engine, report_id) == [
        *UP_TO_DELIVERED,
        (State.DELIVERED, State.VERIFIED),
    ]


def test_a_read_back_pass_says_when_the_next_delivery_comes_due(stages: Stages) -> None:
    """The lane sleeps until then (`relay.wiring.read_back_jobs`) instead of polling."""
    case_system = FakeCaseSystem()
    delay = timedelta(seconds=60)

    def look() -> ReadBackPass:
        return verify_delivered(
            stages.uow,
            verify_delay_seconds=60,
            deliverer_for=lambda recipient: case_system,
            receipt_mode_for=stages.receipt_mode,
            now=stages.clock,
        )

    assert look() == (0, stages.clock() + delay)  # none delivered: one delivered now
    first = stages.delivered(case_system)
    stages.clock.advance(20)
    second = stages.delivered(case_system)
    stages.clock.advance(30)
    first_due = report(stages.engine, first).updated_at + delay
    assert look() == (0, first_due)  # neither due yet
    stages.clock.advance(15)
    second_due = report(stages.engine, second).updated_at + delay
    assert second_due > stages.clock() > first_due
    assert look() == (1, second_due)  # the first verified; the second is next
    assert report(stages.engine, first).state is State.VERIFIED


def test_reports_that_stay_delivered_do_not_fill_the_read_backs_batch(
    ledger_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    """A legacy recipient's deliveries can never be read back and stay DELIVERED; the
    oldest of them once filled every batch, and no other report was read back again."""
    (tmp_path / "routes.yaml").write_text(
        "recipients:\n"
        f"  - {{id: bergen, name: Bergen, serves: ['{BERGEN}'], vendor: rest-json,"
        " endpoint: 'http://127.0.0.1:9', secret_env: S}\n"
        f"  - {{id: old, name: Old, serves: ['{OSLO}'], vendor: rest-json,"
        " endpoint: 'http://127.0.0.1:9', secret_env: S, receipt: legacy}\n",
        "utf-8",
    )
    table = load_routes(tmp_path / "routes.yaml", {"S": "x" * 32})
    stages = Stages(ledger_engine, table, clock)
    case_system = FakeCaseSystem()
    for _ in range(2):
        old = routed(ledger_engine, table, clock, OSLO)
        assert stages.deliver(old, case_system) is State.DELIVERED
        clock.advance(1)
    strict = stages.delivered(case_system)
    clock.advance(60)

    def look(unverifiable: frozenset[str]) -> ReadBackPass:
        return verify_delivered(
            stages.uow,
            verify_delay_seconds=60,
            deliverer_for=lambda recipient: case_system,
            receipt_mode_for=stages.receipt_mode,
            now=clock,
            unverifiable=unverifiable,
            batch=2,
        )

    assert look(frozenset()).moved == 0  # the two legacy deliveries fill the batch
    assert report(ledger_engine, strict).state is State.DELIVERED
    assert look(frozenset({"old"})).moved == 1
    assert report(ledger_engine, strict).state is State.VERIFIED
    assert report(ledger_engine, old).state is State.DELIVERED  # as it must stay


def test_a_ticks_read_backs_are_recorded_in_one_transaction(stages: Stages) -> None:
    """The read-back lane reads every due report back in parallel and records what it
    found with one commit; a report moved on meanwhile is left out, the others recorded."""
    case_system = FakeCaseSystem()
    kept, lost, moved_on = (stages.delivered(case_system) for _ in range(3))
    case_system.lose(lost)
    stages.clock.advance(60)

    class MovedOnMeanwhile(FakeCaseSystem):
        def read_back(self, report_id: str) -> StoredCopy | None:
            if report_id == moved_on:
                assert stages.verify(report_id, case_system) is State.VERIFIED
            return case_system.read_back(report_id)

    commits: list[object] = []
    committed = commits.append
    event.listen(stages.engine, "commit", committed)
    try:
        moved, _ = verify_delivered(
            stages.uow,
            verify_delay_seconds=60,
            deliverer_for=lambda recipient: MovedOnMeanwhile(),
            receipt_mode_for=stages.receipt_mode,
            now=stages.clock,
        )
    finally:
        event.remove(stages.engine, "commit", committed)

    assert moved == 2
    # The read of those due (`close_read`), the one verify_report of `moved_on`, then the
    # tick's one for all it found.
    assert len(commits) == 3
    assert report(stages.engine, kept).state is State.VERIFIED
    assert history(stages.engine, lost)[-2:] == [
        (State.DELIVERED, State.MISSING),
        (State.MISSING, State.ROUTED),
    ]
    assert history(stages.engine, moved_on) == [*UP_TO_DELIVERED, (State.DELIVERED, State.VERIFIED)]


def test_a_verified_report_keeps_the_case_systems_reference(stages: Stages) -> None:
    case_system = FakeCaseSystem()
    report_id = stages.delivered(case_system)
    stages.verify(report_id, case_system)
    with stages.uow() as uow:
        verified = uow.reports.history(report_id)[-1]
    assert verified.detail == {"saksreferanse": case_system.saksreferanse(report_id)}


def test_a_lost_copy_is_missing_then_delivered_again_with_the_same_bytes(
    stages: Stages,
) -> None:
    case_system = FakeCaseSystem()
    report_id = stages.delivered(case_system)
    case_system.lose(report_id)
    assert stages.verify(report_id, case_system) is State.ROUTED
    with stages.uow() as uow:
        missing = uow.reports.history(report_id)[-2]
    assert missing.reason == "read-back: the case system does not have it"
    assert report(stages.engine, report_id).missing_count == 1
    assert outbox_queues(stages.engine, report_id)[-1] == "deliver.rest-json"

    assert stages.deliver(report_id, case_system) is State.DELIVERED
    first, again = case_system.deliveries
    assert again == first, "the same id, the same bytes, the same hash"
    assert stages.verify(report_id, case_system) is State.VERIFIED


def test_a_report_lost_three_times_is_dead_lettered_as_missing(stages: Stages) -> None:
    case_system = FakeCaseSystem()
    report_id = stages.delivered(case_system)
    outcomes = []
    for _ in range(3):
        case_system.lose(report_id)
        outcomes.append(stages.verify(report_id, case_system))
        if outcomes[-1] is State.ROUTED:
            assert stages.deliver(report_id, case_system) is State.DELIVERED
    assert outcomes == [State.ROUTED, State.ROUTED, State.DEAD_LETTERED]
    lost = report(stages.engine, report_id)
    assert (lost.state_kind, lost.missing_count) == ("missing", 3)
    assert lost.state_reason == "the case system lost this report 3 times after acknowledging it"
    assert len(case_system.deliveries) == 3


def test_a_fiks_io_report_is_verified_by_its_receipt_alone(stages: Stages) -> None:
    mailbox = FakeMailbox()
    report_id = stages.awaiting(mailbox)
    ours = mailbox.deliveries[-1].sha256
    stages.receive(report_id, MOTTATT, {"saksreferanse": "2026/117", "sha256": ours})
    assert stages.verify(report_id, mailbox) is State.VERIFIED
    assert report(stages.engine, report_id).state_reason == (
        "the receipt carried our sha256; the protocol has no read-back"
    )


# -- reconciliation --------------------------------------------------------------------


@pytest.mark.parametrize("state", [State.DELIVERED, State.VERIFIED])
def test_reconciliation_finds_a_report_missing_from_the_case_systems_list(
    stages: Stages, state: State
) -> None:
    case_system = FakeCaseSystem()
    kept, lost = stages.delivered(case_system), stages.delivered(case_system)
    if state is State.VERIFIED:
        assert stages.verify(lost, case_system) is State.VERIFIED
    case_system.lose(lost)
    stages.clock.advance(3600)
    since = T0 - timedelta(days=1)

    result = reconcile_recipient(
        stages.uow, "bergen", since, deliverer=case_system, now=stages.clock
    )

    assert (result.checked, result.missing, result.error) == (2, [lost], None)
    assert history(stages.engine, lost)[-2:] == [
        (state, State.MISSING),
        (State.MISSING, State.ROUTED),
    ]
    with stages.uow() as uow:
        missing = uow.reports.history(lost)[-2]
    assert missing.reason == (
        f"reconciliation: not in the case system's list since {since.isoformat()}"
    )
    assert report(stages.engine, kept).state is State.DELIVERED
