"""A simulated case system that is down for a period refuses connections, then answers again
on the same port (as `relay sandbox --down-after S --down-for S` and the demo use it)."""

from __future__ import annotations

import httpx
import pytest

from deliverers.sandbox.app import SandboxConfig, create_sandbox_app
from relay.servers import RestartableServer
from tests.support.processes import wait_for

pytestmark = pytest.mark.integration


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sandbox/reports", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def refuses(url: str) -> bool:
    try:
        httpx.get(f"{url}/_sandbox/reports", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.TransportError:
        return False  # going down: a request cut off mid-way (uvicorn on httptools); look again
    return False


def test_an_outage_refuses_connections_then_the_same_port_answers_again() -> None:
    server = RestartableServer(create_sandbox_app(SandboxConfig("secret")))
    server.start()
    try:
        assert answers(server.url)
        server.outage(after=0.2, length=2.0)
        wait_for(lambda: refuses(server.url), timeout=5, message="connections refused")
        wait_for(lambda: answers(server.url), timeout=10, message="back on the same port")
    finally:
        server.stop()


def test_an_unavailable_case_system_answers_503_to_everything_but_its_controls() -> None:
    """The `unavailable` fault: a gateway whose case system is down. Unlike `error_rate`
    (deliveries only), the listing the breaker's liveness check asks answers 503 too."""
    server = RestartableServer(create_sandbox_app(SandboxConfig("secret")))
    server.start()
    try:
        listing = f"{server.url}/bekymringsmeldinger?mottatt_fra=2026-11-27T00:00:00%2B00:00"
        assert httpx.get(listing, timeout=5).status_code == 200
        faults = f"{server.url}/_sandbox/faults"
        assert httpx.put(faults, json={"unavailable": True}, timeout=5).status_code == 200
        assert httpx.get(listing, timeout=5).status_code == 503
        assert httpx.get(f"{server.url}/bekymringsmeldinger/x", timeout=5).status_code == 503
        assert httpx.post(f"{server.url}/bekymringsmeldinger", timeout=5).status_code == 503
        assert httpx.get(faults, timeout=5).json()["unavailable"] is True
        assert httpx.put(faults, json={"unavailable": 1}, timeout=5).status_code == 400
        assert httpx.put(faults, json={"unavailable": False}, timeout=5).status_code == 200
        assert httpx.get(listing, timeout=5).status_code == 200
    finally:
        server.stop()
