"""`relay keys rotate` while reports are being received and delivered: every data key ends
up wrapped by the new key, and no delivery, read-back or intake fails on the way."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from deliverers.stage import body_for
from intake.meldingstyper import MELDINGSTYPER
from ledger import schema
from ledger.content_crypto import new_key_line, parse_key_ring
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from tests.support.reports import submission
from tests.support.stack import RecipientSpec, Stack, stack_for

pytestmark = pytest.mark.e2e

OLD, NEW = new_key_line("2025"), new_key_line("2026")
SLOW = ("--latency", "0.05")  # deliveries take a while, so some are in flight during the rotation
RECIPIENTS = (
    RecipientSpec("oslo", ("0301",), sandbox_args=SLOW),
    RecipientSpec("bergen", ("4601",), sandbox_args=SLOW),
)


@pytest.fixture(params=["embedded", "split-postgres-redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    # The processes hold both keys, still sealing with the old one (the first step of a
    # rotation); the operator's command has the new one first.
    options = {"recipients": RECIPIENTS, "extra_env": {"RELAY_CONTENT_KEYS": f"{OLD},{NEW}"}}
    with stack_for(request, tmp_path, request.param, **options) as running:
        yield running


def rotate(stack: Stack) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", "keys", "rotate", "--json"],
        env={**stack.env, "RELAY_CONTENT_KEYS": f"{NEW},{OLD}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def submit(stack: Stack, first: int, count: int, into: dict[str, dict[str, object]]) -> None:
    for number in range(first, first + count):
        body = submission(
            MELDINGSTYPER[number % 4],
            kommunenummer=("0301", "4601")[number % 2],
            text=f"nr {number}",
        )
        into[stack.submit(body, key=f"rotation-{number}")] = body


def test_rotation_rewraps_every_key_while_reports_are_delivered_and_nothing_fails(
    stack: Stack,
) -> None:
    sent: dict[str, dict[str, object]] = {}
    submit(stack, 0, 30, sent)
    later = threading.Thread(target=submit, args=(stack, 30, 20, sent))
    later.start()
    during = rotate(stack)
    later.join()
    assert during.returncode in (0, 1), during.stderr  # 1: the pipeline sealed more meanwhile
    assert "Traceback" not in during.stderr
    assert json.loads(during.stdout)["rewrapped"] >= 30

    stack.wait_for_states(list(sent), {State.VERIFIED}, timeout=120)
    after = rotate(stack)
    assert after.returncode == 0, after.stdout + after.stderr
    assert json.loads(after.stdout)["remaining"] == 0

    with stack.engine.connect() as connection:
        key_ids = connection.execute(select(schema.report_contents.c.key_id)).scalars().all()
    assert len(key_ids) == 50
    assert set(key_ids) == {"2026"}
    only_new = parse_key_ring(NEW, source="test")
    for recipient, sandbox in stack.sandboxes.items():
        for entry in sandbox.stored():
            with UnitOfWork(stack.engine, only_new) as uow:
                report = uow.reports.get(entry["id"])
                document = uow.reports.document(entry["id"])
            assert report is not None
            assert document is not None
            assert report.recipient == recipient
            assert sandbox.body(entry["id"]) == body_for(report, document)
    stack.assert_stored_once("oslo", [i for i, b in sent.items() if "0301" in json.dumps(b)])
    logs = stack.logs()
    for sign_of_trouble in ("Traceback", "does not open", "not in the key ring", "DEAD_LETTERED"):
        assert sign_of_trouble not in logs
