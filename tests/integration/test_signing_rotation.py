"""A recipient's signing secret rotates without a gap: while the routes file names a new and
an old secret, every push carries a signature for each, and a real (simulated) case system
holding either one stores the report; one holding neither refuses it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from deliverers.base import Delivery, PermanentError, Receipt
from deliverers.registry import AdapterResources, build_deliverer
from deliverers.sandbox.app import SandboxConfig, create_sandbox_app
from relay.servers import RestartableServer
from router.routes import load_routes

pytestmark = pytest.mark.integration

NEW, OLD, OTHER = "new-secret-" + "n" * 32, "old-secret-" + "o" * 32, "other-" + "x" * 32


@contextmanager
def case_system(secret: str) -> Iterator[str]:
    server = RestartableServer(create_sandbox_app(SandboxConfig(secret)))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def delivery(report_id: str) -> Delivery:
    meldingstype = "no.ks.fiks.bekymringsmelding.privat.v2"
    envelope = {
        "id": report_id,
        "meldingstype": meldingstype,
        "mottaker": {"recipient": "bergen", "kommunenummer": "4601"},
        "mottatt": "2026-11-26T12:00:00.000000Z",
        "bekymringsmelding": {"melding": "..."},
    }
    body = json.dumps(envelope).encode()
    return Delivery(report_id, body, hashlib.sha256(body).hexdigest(), meldingstype)


def push(tmp_path: Path, url: str, environ: dict[str, str], report_id: str) -> Receipt:
    routes = tmp_path / "routes.yaml"
    entry = f"""recipients:
  - id: bergen
    name: Bergen
    serves: ["4601"]
    vendor: rest-json
    endpoint: {url}
    secret_env: SECRET_NEW
"""
    if "SECRET_OLD" in environ:
        entry += "    previous_secret_env: SECRET_OLD\n"
    routes.write_text(entry, "utf-8")
    recipient = load_routes(routes, environ).recipients["bergen"]
    with httpx.Client() as client:
        resources = AdapterResources(client, lambda: None, "relay", 60)  # type: ignore[arg-type,return-value]
        result = build_deliverer(recipient, resources).deliver(delivery(report_id))
    assert isinstance(result, Receipt)
    return result


@pytest.mark.parametrize("held_by_case_system", [OLD, NEW])
def test_a_push_during_rotation_is_accepted_by_a_case_system_holding_either_secret(
    tmp_path: Path, held_by_case_system: str
) -> None:
    with case_system(held_by_case_system) as url:
        receipt = push(tmp_path, url, {"SECRET_NEW": NEW, "SECRET_OLD": OLD}, "r-rotating")
    assert receipt.saksreferanse


def test_a_case_system_holding_neither_secret_refuses_the_push(tmp_path: Path) -> None:
    with case_system(OTHER) as url, pytest.raises(PermanentError, match="401"):
        push(tmp_path, url, {"SECRET_NEW": NEW, "SECRET_OLD": OLD}, "r-neither")


def test_after_the_rotation_the_old_secret_no_longer_signs(tmp_path: Path) -> None:
    with case_system(OLD) as url, pytest.raises(PermanentError, match="401"):
        push(tmp_path, url, {"SECRET_NEW": NEW}, "r-after")
