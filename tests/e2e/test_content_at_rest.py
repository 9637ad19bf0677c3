"""The canary test, extended to storage: after the pipeline has carried reports naming a
canary, the name is in no file of the ledger or the embedded broker (WAL included), not in a
`pg_dump` of the PostgreSQL ledger, in no message or command a Redis broker was sent, and in
no log; the case systems still hold exactly what was sent, proven and read back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from deliverers.stage import body_for
from intake.meldingstyper import MELDINGSTYPER
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from tests.support.at_rest import found_in, pg_dump, redis_monitor, sqlite_files
from tests.support.reports import submission
from tests.support.stack import Stack, stack_for

pytestmark = pytest.mark.e2e

CANARY = "Kanarifugl Hvilested-Åsmund"


@pytest.fixture(params=["embedded", "split-postgres-redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with stack_for(request, tmp_path, request.param) as running:
        yield running


def test_a_canary_name_is_stored_nowhere_but_in_the_case_system(stack: Stack) -> None:
    redis_url = stack.env.get("RELAY_BROKER_URL", "")
    with ExitStack() as taps:
        monitor = None
        if redis_url.startswith("redis://"):
            monitor = taps.enter_context(redis_monitor(redis_url, stack.workdir / "monitor.log"))
        sent: dict[str, dict[str, object]] = {}
        for number, meldingstype in enumerate(MELDINGSTYPER * 2):
            kommunenummer = "4601" if number % 2 else "0301"
            body = submission(meldingstype, kommunenummer=kommunenummer, text=f"{CANARY} {number}")
            sent[stack.submit(body, key=f"rest-{number}")] = body
        stack.wait_for_states(list(sent), {State.VERIFIED})

    for recipient, sandbox in stack.sandboxes.items():  # delivered and read back, as sent
        for entry in sandbox.stored():
            with UnitOfWork(stack.engine, stack.keys) as uow:
                report = uow.reports.get(entry["id"])
                document = uow.reports.document(entry["id"])
            assert report is not None
            assert document is not None
            assert report.recipient == recipient
            bytes_sent = body_for(report, document)
            assert entry["sha256"] == report.delivery_sha256
            assert entry["sha256"] == hashlib.sha256(bytes_sent).hexdigest()
            assert sandbox.body(entry["id"]) == bytes_sent
            delivered = json.loads(bytes_sent)["bekymringsmelding"]
            assert delivered == sent[entry["id"]]["bekymringsmelding"]
            assert CANARY in document.decode()

    assert not found_in(stack.logs().encode(), CANARY), "report content reached a log"
    if monitor is not None:
        commands = monitor.read_bytes()
        prefix = stack.env["RELAY_BROKER_KEY_PREFIX"].encode()
        assert prefix in commands, "the broker tap saw none of the stack's traffic"
        assert any(report_id.encode() in commands for report_id in sent)
        assert not found_in(commands, CANARY), "report content went through the broker"
    database_url = stack.env.get("RELAY_DATABASE_URL")
    if database_url:
        dump = pg_dump(database_url)
        assert b"report_contents" in dump
        assert not found_in(dump, CANARY), "report content is in a pg_dump of the ledger"

    running = sqlite_files(stack.workdir / "var")
    if not database_url:
        assert {path.name for path in running} >= {"ledger.sqlite", "ledger.sqlite-wal"}
    for path in running:
        assert not found_in(path.read_bytes(), CANARY), f"report content is in {path.name}"
    for process in stack.processes.values():
        process.stop()
    for path in sqlite_files(stack.workdir / "var"):  # as they rest, WAL checkpointed
        assert not found_in(path.read_bytes(), CANARY), f"report content is in {path.name}"
