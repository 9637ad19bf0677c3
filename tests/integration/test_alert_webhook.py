"""The alert webhook against a real HTTP receiver on 127.0.0.1, from a real ledger: in the
relay's format and in Alertmanager's, each POST has the shape docs/alert-webhook.md shows,
an alert that was not taken is sent again until it is, and no report content goes out."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from ledger.alerts import Alert
from ledger.checkpoint import make_checkpoint
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from relay.alert_webhook import send_alerts
from relay.checkpoint_log import CheckpointLog
from relay.servers import ServerThread, bind
from tests.support.clock import Clock
from tests.support.ledger import TEST_KEYS, report_in

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "alert-webhook.md"
CANARY = b'{"melding": "Kanarifugl Varselsen"}'
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


class Receiver:
    """A webhook receiver that answers 503 to the first `refuse` POSTs, then 200."""

    def __init__(self, refuse: int = 0) -> None:
        self.bodies: list[Any] = []
        self.raw: list[bytes] = []
        self.refuse = refuse
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> JSONResponse:
            raw = await request.body()
            with self.lock:
                if self.refuse > 0:
                    self.refuse -= 1
                    return JSONResponse({"status": "busy"}, status_code=503)
                self.raw.append(raw)
                self.bodies.append(json.loads(raw))
            return JSONResponse({"status": "ok"})

        self.server = ServerThread(app, bind())

    @property
    def url(self) -> str:
        return f"{self.server.url}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(refuse=2)
    running.server.start()
    yield running
    running.server.stop()


def documented() -> list[dict[str, Any]]:
    """The JSON examples of docs/alert-webhook.md, in order: relay alert, relay checkpoint,
    Alertmanager alert, Alertmanager checkpoint."""
    blocks = re.findall(r"```json\n(.*?)\n```", DOC.read_text("utf-8"), re.DOTALL)
    return [json.loads(block) for block in blocks]


def shape(value: Any) -> Any:
    """Keys and value types, recursively: what a receiver's parser depends on."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def raise_alerts(engine: Engine, clock: Clock) -> list[Alert]:
    held = report_in(engine, State.HELD, clock(), CANARY)
    dead = report_in(engine, State.DEAD_LETTERED, clock(), CANARY)
    alerts = [
        Alert(held, "held", None, "HELD", "no recipient serves 5001", clock()),
        Alert(dead, "dead-lettered:rejected", "bergen", "DEAD_LETTERED", "422", clock()),
    ]
    with UnitOfWork(engine, TEST_KEYS) as uow:
        for alert in alerts:
            assert uow.alerts.raise_once(alert)
        uow.commit()
    return alerts


def send(engine: Engine, clock: Clock, url: str, payload_format: str) -> int:
    with httpx.Client() as http:
        return send_alerts(
            lambda: UnitOfWork(engine, TEST_KEYS), http, url, clock, payload_format=payload_format
        )


def send_until_taken(engine: Engine, clock: Clock, receiver: Receiver, payload_format: str) -> None:
    """The receiver refuses twice: each refused alert waits its backoff, then goes again."""
    assert send(engine, clock, receiver.url, payload_format) == 0  # both refused
    assert send(engine, clock, receiver.url, payload_format) == 0  # not due yet
    assert receiver.bodies == []
    clock.advance(6)  # past the first backoff (5 s)
    assert send(engine, clock, receiver.url, payload_format) == 2
    clock.advance(60)
    assert send(engine, clock, receiver.url, payload_format) == 0  # sent: never again
    assert len(receiver.bodies) == 2
    assert all(b"Kanarifugl" not in raw for raw in receiver.raw)


def test_alerts_in_the_relay_format_are_sent_until_taken(
    ledger_engine: Engine, clock: Clock, receiver: Receiver
) -> None:
    alerts = raise_alerts(ledger_engine, clock)
    send_until_taken(ledger_engine, clock, receiver, "relay")
    example = documented()[0]
    for alert, body in zip(alerts, receiver.bodies, strict=True):
        assert set(body) == set(example)
        assert (body["kind"], body["report_id"], body["recipient"], body["state"]) == (
            alert.kind,
            alert.report_id,
            alert.recipient,
            alert.state,
        )
        assert RFC3339.match(body["raised_at"])


def test_alerts_in_the_alertmanager_format_have_its_shape(
    ledger_engine: Engine, clock: Clock, receiver: Receiver
) -> None:
    alerts = raise_alerts(ledger_engine, clock)
    send_until_taken(ledger_engine, clock, receiver, "alertmanager")
    example = documented()[2]
    held, dead = receiver.bodies
    assert shape(dead) == shape(example)
    assert dead["alerts"][0]["labels"] == {
        "alertname": "RelayReportDeadLettered",
        "severity": "critical",
        "kind": "dead-lettered:rejected",
        "report_id": alerts[1].report_id,
        "recipient": "bergen",
        "state": "DEAD_LETTERED",
        "reason": "rejected",
    }
    assert held["alerts"][0]["labels"]["alertname"] == "RelayReportHeld"
    assert "recipient" not in held["alerts"][0]["labels"]  # none yet: left out, not ""
    for body in (held, dead):
        (one,) = body["alerts"]
        assert body["version"] == "4"
        assert body["status"] == one["status"] == "firing"
        assert body["commonLabels"] == one["labels"]
        assert body["groupLabels"] == {"alertname": one["labels"]["alertname"]}
        assert RFC3339.match(one["startsAt"])
        assert one["endsAt"] == "0001-01-01T00:00:00Z"
        assert re.fullmatch(r"[0-9a-f]{16}", one["fingerprint"])
        assert one["annotations"]["command"].startswith("relay ")
    assert held["alerts"][0]["fingerprint"] != dead["alerts"][0]["fingerprint"]


@pytest.mark.parametrize(("payload_format", "example"), [("relay", 1), ("alertmanager", 3)])
def test_a_checkpoint_is_posted_in_the_format_chosen(
    tmp_path: Path, payload_format: str, example: int
) -> None:
    receiver = Receiver()
    receiver.server.start()
    checkpoint = replace(
        make_checkpoint([], datetime.fromisoformat("2026-11-26T03:00:00+00:00"), key()), number=7
    )
    try:
        with httpx.Client() as http:
            log = CheckpointLog(
                tmp_path / "checkpoints.jsonl", http, receiver.url, webhook_format=payload_format
            )
            log(checkpoint)
    finally:
        receiver.server.stop()
    (body,) = receiver.bodies
    assert shape(body) == shape(documented()[example])
    assert json.loads((tmp_path / "checkpoints.jsonl").read_text())["number"] == 7
    if payload_format == "alertmanager":
        assert body["status"] == "resolved"
        assert body["alerts"][0]["labels"]["severity"] == "info"
        assert body["alerts"][0]["annotations"]["signature"] == checkpoint.signature


def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
