"""The whole path over HTTP with real processes: intake, outbox, router, worker, case system."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from deliverers.stage import body_for
from intake.meldingstyper import MELDINGSTYPER
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from tests.support.reports import submission
from tests.support.stack import Stack, stack_for

pytestmark = pytest.mark.e2e

CANARY = "Kanarifugl Testesen-Øyvår"


@pytest.fixture(params=["embedded", "split-postgres-redis", "run-postgres-redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with stack_for(request, tmp_path, request.param) as running:
        yield running


def test_every_report_is_stored_exactly_once_with_the_hash_of_the_bytes_sent(stack: Stack) -> None:
    sent: dict[str, dict[str, object]] = {}
    for number, meldingstype in enumerate(MELDINGSTYPER * 2):
        kommunenummer = "4601" if number % 2 else "0301"
        body = submission(meldingstype, kommunenummer=kommunenummer, text=f"{CANARY} {number}")
        sent[stack.submit(body, key=f"e2e-{number}")] = body

    stack.wait_for_states(list(sent), {State.VERIFIED})

    stored = {name: sandbox.stored() for name, sandbox in stack.sandboxes.items()}
    every_stored_id = Counter(entry["id"] for entries in stored.values() for entry in entries)
    assert set(every_stored_id) == set(sent)
    assert set(every_stored_id.values()) == {1}, "a report is stored more than once"

    for recipient, entries in stored.items():
        sandbox = stack.sandboxes[recipient]
        for entry in entries:
            report_id = entry["id"]
            with UnitOfWork(stack.engine, stack.keys) as uow:
                report = uow.reports.get(report_id)
                document = uow.reports.document(report_id)
            assert report is not None
            assert document is not None
            assert report.recipient == recipient
            bytes_sent = body_for(report, document)
            expected = hashlib.sha256(bytes_sent).hexdigest()
            assert entry["sha256"] == expected
            assert report.delivery_sha256 == expected
            assert sandbox.body(report_id) == bytes_sent
            assert (
                json.loads(bytes_sent)["bekymringsmelding"] == sent[report_id]["bekymringsmelding"]
            )

    assert CANARY not in stack.logs(), "report content reached a log"


def test_a_report_for_an_unrouted_municipality_is_held_not_dropped(stack: Stack) -> None:
    report_id = stack.submit(submission(MELDINGSTYPER[0], kommunenummer="5001"))
    stack.wait_for_states([report_id], {State.HELD})
    with UnitOfWork(stack.engine, stack.keys) as uow:
        history = uow.reports.history(report_id)
    assert [t.to_state for t in history] == [State.RECEIVED, State.HELD]
    assert history[-1].reason == "no recipient serves 5001"
