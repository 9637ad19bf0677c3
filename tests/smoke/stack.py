"""The production shape started from the installed wheel: `relay api`, `relay worker` and
`relay scheduler` as separate processes on PostgreSQL and a broker, delivering to a
`relay sandbox` rest-json case system."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.smoke.wheel import Installed, clean_env
from tests.support.processes import RelayProcess, free_port
from tests.support.stack import Broker, RecipientSpec, Sandbox, secret_env, write_routes

RECIPIENT = RecipientSpec("bergen", ("4601",))
STOP_SECONDS = 10


@dataclass
class ProductionStack:
    installed: Installed
    env: dict[str, str]
    api_url: str
    token: str
    processes: list[RelayProcess]

    def submit(self, body: Mapping[str, Any]) -> str:
        response = httpx.post(
            f"{self.api_url}/v1/reports",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        report_id: str = response.json()["id"]
        return report_id

    def statuses(self, report_ids: Iterable[str]) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=10) as client:
            return {r: client.get(f"/v1/reports/{r}").json()["status"] for r in report_ids}

    def check_alive(self) -> None:
        """Every process still runs; else fail with the one that stopped and its log."""
        for process in self.processes:
            if process.process is not None and process.process.poll() is not None:
                log = process.log()
                last = ([line for line in log.splitlines() if line.strip()] or ["(no output)"])[-1]
                raise AssertionError(
                    f"relay {process.args[0]} (from the installed wheel) exited with status "
                    f"{process.process.returncode}: {last.strip()}\nits log ends:\n{log[-3000:]}"
                )

    def wait_until(self, report_ids: list[str], status: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            seen = self.statuses(report_ids)
            if all(value == status for value in seen.values()):
                return
            time.sleep(0.25)
        raise AssertionError(f"not all {status} after {timeout:g} s: {seen}\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()[-2000:]}" for p in self.processes)


def production_env(workdir: Path, database_url: str, broker: Broker) -> dict[str, str]:
    env = clean_env()
    env.update(
        RELAY_DATA_DIR=str(workdir / "var"),
        RELAY_DATABASE_URL=database_url,
        RELAY_BROKER_URL=broker.url,
        RELAY_ROUTES_FILE=str(workdir / "routes.yaml"),
        RELAY_VERIFY_DELAY_SECONDS="0.5",
        RELAY_RETRY_BASE_SECONDS="0.2",
        RELAY_OUTBOX_POLL_SECONDS="0.1",
        RELAY_SCHEDULER_TICK_SECONDS="0.2",
        RELAY_HEARTBEAT_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    env[secret_env(RECIPIENT.id)] = secrets.token_hex(32)
    if broker.key_prefix:
        env["RELAY_BROKER_KEY_PREFIX"] = broker.key_prefix
    return env


@contextmanager
def production_stack(
    installed: Installed, workdir: Path, database_url: str, broker: Broker, content_keys: str
) -> Iterator[ProductionStack]:
    """`relay db upgrade`, then the sandbox and the three processes; all stopped on the way
    out, whatever happened."""
    env = production_env(workdir, database_url, broker)
    token = secrets.token_urlsafe(32)
    env["RELAY_INTAKE_TOKENS"] = f"smoke-portal:{token}"
    env["RELAY_CONTENT_KEYS"] = content_keys
    installed.check(["db", "upgrade"], env, timeout=120)
    processes: list[RelayProcess] = []
    with ExitStack() as stops:

        def start(name: str, args: list[str]) -> RelayProcess:
            process = RelayProcess(
                name, args, env, workdir, relay=installed.relay, cwd=installed.home
            )
            stops.callback(process.stop, STOP_SECONDS)
            processes.append(process.start())
            return process

        sandbox_port = str(free_port())
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        sandbox_args = ["--vendor", "rest-json", "--database", str(workdir / "sandbox.sqlite")]
        sandbox_args += ["--secret-env", secret_env(RECIPIENT.id)]
        sandbox = start("sandbox", ["sandbox", "--port", sandbox_port, *sandbox_args])
        sandboxes = {RECIPIENT.id: Sandbox(RECIPIENT.id, sandbox_url, sandbox)}
        write_routes(workdir / "routes.yaml", (RECIPIENT,), sandboxes)
        api_port = free_port()
        api = start("api", ["api", "--port", str(api_port)])
        start("worker", ["worker", "--concurrency", "2"])
        start("scheduler", ["scheduler"])
        sandbox.wait_http(f"{sandbox_url}/_sandbox/faults", timeout=30)
        api_url = f"http://127.0.0.1:{api_port}"
        api.wait_http(f"{api_url}/healthz", timeout=30)
        yield ProductionStack(installed, env, api_url, token, processes)


def wait_for_probes(
    installed: Installed, env: Mapping[str, str], roles: Iterable[str], timeout: float = 30
) -> None:
    """`relay health --check ROLE`, compose's probes (run side by side), answer 0 within a
    few heartbeats."""
    deadline = time.monotonic() + timeout
    waiting = list(roles)
    while True:
        probes = {role: installed.start(["health", "--check", role], env) for role in waiting}
        answers = {role: _answer(probe) for role, probe in probes.items()}
        waiting = [role for role, probe in probes.items() if probe.returncode != 0]
        if not waiting:
            return
        if time.monotonic() > deadline:
            said = {role: answers[role].strip()[-500:] for role in waiting}
            raise AssertionError(f"relay health --check did not answer 0 in {timeout:g} s: {said}")
        time.sleep(0.5)


def _answer(probe: subprocess.Popen[str]) -> str:
    try:
        output, _ = probe.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        probe.kill()
        output, _ = probe.communicate()
        output += "\n(no answer within 60 s)"
    return output
