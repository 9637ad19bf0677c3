"""The embedded stack the demo and the benchmark run: simulated case systems in this
process, a routes file for the demo's scenario, and `relay run` as a child process."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from deliverers.sandbox.app import SandboxConfig, create_sandbox_app
from deliverers.sandbox.faults import Faults
from deliverers.sandbox.store import SandboxStore
from relay.demo.scenario import RECIPIENTS, routes_document, secret_env
from relay.servers import RestartableServer, bind

DEMO_SETTINGS = {
    "RELAY_RETRY_BASE_SECONDS": "0.5",
    "RELAY_VERIFY_DELAY_SECONDS": "1",
    "RELAY_BREAKER_FAILURES": "3",
    "RELAY_BREAKER_OPEN_SECONDS": "2",
    "RELAY_LOG_LEVEL": "INFO",
}


class CaseSystem(RestartableServer):
    """A simulated case system in this process, with its own storage and faults."""

    def __init__(self, secrets_by_recipient: dict[str, str], faults: Faults) -> None:
        self.store = SandboxStore()
        super().__init__(
            create_sandbox_app(SandboxConfig(secrets_by_recipient, faults=faults), self.store)
        )


def free_port() -> int:
    sock = bind()
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def wait_until_ready(client: httpx.Client, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"relay run exited with {process.returncode}; see {log}")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"relay run did not become ready; see {log}")


@dataclass
class DemoStack:
    client: httpx.Client  # to the intake API, with the demo portal's token
    case_systems: list[CaseSystem]
    workdir: Path


@contextmanager
def demo_stack(
    workdir: Path, fault_plan: list[Faults], settings: Mapping[str, str] | None = None
) -> Iterator[DemoStack]:
    """Case systems with these faults, a routes file, and `relay run`, until the block ends."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()
    secret_of = {recipient.id: secrets.token_hex(32) for recipient in RECIPIENTS}
    case_systems = [CaseSystem(secret_of, plan) for plan in fault_plan]
    for system in case_systems:
        system.start()
    routes_file = workdir / "routes.yaml"
    routes = routes_document([system.url for system in case_systems])
    routes_file.write_text(yaml.safe_dump(routes, allow_unicode=True, sort_keys=False), "utf-8")
    token = secrets.token_urlsafe(32)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RELAY_")},
        **{secret_env(recipient): secret for recipient, secret in secret_of.items()},
        **DEMO_SETTINGS,
        **(settings or {}),
        "RELAY_DATA_DIR": str(workdir / "var"),
        "RELAY_ROUTES_FILE": str(routes_file),
        "RELAY_INTAKE_TOKENS": f"demo-portal:{token}",
    }
    log_path = workdir / "relay.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "relay", "run", "--port", str(port)],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        base_url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            wait_until_ready(client, process, log_path)
            yield DemoStack(client, case_systems, workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        for system in case_systems:
            system.stop()
