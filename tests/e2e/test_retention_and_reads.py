"""In a running relay: the scheduler erases delivered content after its time and records it;
a person reads content only through `relay report show`, which is recorded and listed; the
status command and API never show content; the scheduler writes signed checkpoints out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.meldingstyper import PRIVAT_V2
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from tests.support.processes import wait_for
from tests.support.reports import submission
from tests.support.stack import Stack, stack_for

pytestmark = pytest.mark.e2e

CANARY = "Kanarifugl Lesesen-Ørjan"
RETAIN = {
    "RELAY_RETENTION_DAYS": str(30 / 86400),  # thirty seconds
    "RELAY_RETENTION_INTERVAL_SECONDS": "0.5",
    "RELAY_CHECKPOINT_INTERVAL_SECONDS": "1",
    "RELAY_CHECKPOINT_SETTLE_SECONDS": "0",
}


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with stack_for(request, tmp_path, "embedded", extra_env=RETAIN) as running:
        yield running


def test_content_is_read_on_the_record_then_erased_after_its_time(stack: Stack) -> None:
    report_id = stack.submit(submission(PRIVAT_V2, kommunenummer="4601", text=CANARY))
    stack.wait_for_states([report_id], {State.VERIFIED})

    shown = stack.relay_exit(
        "report", "show", report_id, "--reason", "complaint 17", "--operator", "kari"
    )
    assert shown.returncode == 0, shown.stderr
    assert CANARY in json.loads(shown.stdout)["melding"]
    refused = stack.relay_exit("report", "show", report_id, "--operator", "kari")
    assert refused.returncode == 2
    assert "--reason" in refused.stderr
    accesses = json.loads(stack.relay("report", "accesses", report_id, "--json"))
    assert [(a["operator"], a["reason"]) for a in accesses] == [("kari", "complaint 17")]

    status = stack.relay("status", report_id, "--json")
    with stack.client() as client:
        api_view = client.get(f"/v1/reports/{report_id}").text
    assert CANARY not in status + api_view

    def erased() -> bool:
        with UnitOfWork(stack.engine, stack.keys) as uow:
            report = uow.reports.get(report_id)
        return report is not None and report.content_erased_at is not None

    wait_for(erased, timeout=90, message="the retention job erasing the content")
    with UnitOfWork(stack.engine, stack.keys) as uow:
        report = uow.reports.get(report_id)
        history = uow.reports.history(report_id)
        assert uow.reports.document(report_id) is None
    assert report is not None
    assert report.state is State.VERIFIED
    erasure = history[-1]
    assert (erasure.from_state, erasure.to_state, erasure.actor) == (
        State.VERIFIED,
        State.VERIFIED,
        "retention",
    )
    assert erasure.detail is not None
    assert erasure.detail["delivered_sha256"] == report.delivery_sha256
    gone = stack.relay_exit("report", "show", report_id, "--reason", "again", "--operator", "kari")
    assert gone.returncode == 1
    assert "was erased" in gone.stderr
    assert len(json.loads(stack.relay("report", "accesses", "--json"))) == 1
    assert stack.relay_exit("ledger", "verify").returncode == 0

    checkpoints = stack.workdir / "var" / "checkpoints.jsonl"
    wait_for(checkpoints.exists, timeout=20, message="the scheduler writing a checkpoint out")
    verified = stack.relay_exit("ledger", "verify", "--checkpoint", str(checkpoints))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "ok checkpoint" in verified.stdout
    assert CANARY not in stack.logs()
