"""A running relay for end-to-end tests: real processes, real sandbox case systems, real services.

Shapes:
- "embedded": `relay run` on the SQLite ledger and the SQLite broker (no servers);
- "split": `relay api`, `relay worker` (prefork) and `relay scheduler` as separate processes;
- "run": `relay run`, but on the database and broker given (Postgres + Redis, say).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import Engine

from ledger.database import create_ledger_engine
from ledger.lifecycle import State
from ledger.uow import UnitOfWork
from tests.support.processes import RelayProcess, free_port, run_relay, wait_for


@dataclass(frozen=True)
class RecipientSpec:
    id: str
    serves: tuple[str, ...]
    vendor: str = "rest-json"
    case_system: str | None = None  # another recipient's sandbox; default: a sandbox of its own


DEFAULT_RECIPIENTS = (
    RecipientSpec("oslo", ("0301",)),
    RecipientSpec("bergen", ("4601",)),
)


@dataclass
class Sandbox:
    recipient: str
    url: str
    process: RelayProcess

    def stored(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = httpx.get(f"{self.url}/_sandbox/reports", timeout=10).json()
        return result

    def body(self, report_id: str) -> bytes:
        return httpx.get(f"{self.url}/_sandbox/reports/{report_id}/body", timeout=10).content


@dataclass
class Stack:
    api_url: str
    token: str
    env: dict[str, str]
    engine: Engine
    workdir: Path
    sandboxes: dict[str, Sandbox]
    processes: dict[str, RelayProcess] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def submit(self, body: Mapping[str, Any], key: str | None = None) -> str:
        headers = {"Idempotency-Key": key} if key else {}
        with self.client() as client:
            response = client.post("/v1/reports", json=body, headers=headers)
        assert response.status_code == 202, response.text
        report_id: str = response.json()["id"]
        return report_id

    def state(self, report_id: str) -> State:
        with UnitOfWork(self.engine) as uow:
            report = uow.ledger.get(report_id)
        assert report is not None
        return report.state

    def wait_for_states(
        self, report_ids: list[str], states: set[State], timeout: float = 60
    ) -> None:
        def all_there() -> bool:
            for process in self.processes.values():
                if not process.alive:
                    raise AssertionError(f"{process.name} exited:\n{process.log()[-3000:]}")
            return all(self.state(report_id) in states for report_id in report_ids)

        wait_for(all_there, timeout=timeout, message=f"reports reaching {sorted(states)}")

    def logs(self) -> str:
        every = list(self.processes.values()) + [s.process for s in self.sandboxes.values()]
        return "\n".join(process.log() for process in every)

    def write_routes(self, recipients: tuple[RecipientSpec, ...]) -> None:
        """Replace the routes file while the stack runs (atomically, as an operator should)."""
        write_routes(self.workdir / "routes.yaml", recipients, self.sandboxes)

    def relay(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`relay …` with the stack's environment; the caller checks the exit status."""
        return subprocess.run(
            [sys.executable, "-m", "relay", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def start_sandbox(recipient: str, workdir: Path, env: dict[str, str]) -> Sandbox:
    port = free_port()
    secret_env = f"RELAY_SECRET_{recipient.upper().replace('-', '_')}"
    env[secret_env] = secrets.token_hex(32)
    process = RelayProcess(
        f"sandbox-{recipient}",
        [
            "sandbox",
            "--port",
            str(port),
            "--secret-env",
            secret_env,
            "--database",
            str(workdir / f"sandbox-{recipient}.sqlite"),
        ],
        env,
        workdir,
    ).start()
    url = f"http://127.0.0.1:{port}"
    process.wait_http(f"{url}/_sandbox/reports")
    return Sandbox(recipient, url, process)


def write_routes(
    path: Path, recipients: tuple[RecipientSpec, ...], sandboxes: dict[str, Sandbox]
) -> None:
    entries = []
    for spec in recipients:
        case_system = spec.case_system or spec.id
        entries.append(
            {
                "id": spec.id,
                "name": f"Barneverntjenesten {spec.id}",
                "serves": list(spec.serves),
                "vendor": spec.vendor,
                "endpoint": sandboxes[case_system].url,
                "secret_env": f"RELAY_SECRET_{case_system.upper().replace('-', '_')}",
            }
        )
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump({"recipients": entries}), "utf-8")
    temporary.replace(path)


@contextmanager
def running_stack(
    workdir: Path,
    shape: str,
    *,
    database_url: str | None = None,
    broker_url: str | None = None,
    broker_key_prefix: str | None = None,
    recipients: tuple[RecipientSpec, ...] = DEFAULT_RECIPIENTS,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    token = secrets.token_urlsafe(32)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RELAY_") or key.startswith("RELAY_TEST_")
    }
    env.update(
        RELAY_DATA_DIR=str(workdir / "var"),
        RELAY_ROUTES_FILE=str(workdir / "routes.yaml"),
        RELAY_INTAKE_TOKENS=f"test-portal:{token}",
        RELAY_RETRY_BASE_SECONDS="0.2",
        RELAY_OUTBOX_POLL_SECONDS="0.1",
        RELAY_SCHEDULER_TICK_SECONDS="0.2",
        RELAY_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["RELAY_DATABASE_URL"] = database_url
    if broker_url:
        env["RELAY_BROKER_URL"] = broker_url
    if broker_key_prefix:
        env["RELAY_BROKER_KEY_PREFIX"] = broker_key_prefix
    env.update(extra_env or {})

    sandboxes: dict[str, Sandbox] = {}
    processes: dict[str, RelayProcess] = {}
    engine: Engine | None = None
    try:
        for spec in recipients:
            if spec.case_system is None:
                sandboxes[spec.id] = start_sandbox(spec.id, workdir, env)
        write_routes(workdir / "routes.yaml", recipients, sandboxes)
        run_relay(["db", "upgrade"], env)
        port = free_port()
        if shape in ("embedded", "run"):
            processes["run"] = RelayProcess("run", ["run", "--port", str(port)], env, workdir)
        elif shape == "split":
            processes["api"] = RelayProcess("api", ["api", "--port", str(port)], env, workdir)
            processes["worker"] = RelayProcess(
                "worker", ["worker", "--pool", "prefork", "--concurrency", "2"], env, workdir
            )
            processes["scheduler"] = RelayProcess("scheduler", ["scheduler"], env, workdir)
        else:
            raise ValueError(f"unknown shape {shape}")
        for process in processes.values():
            process.start()
        api_url = f"http://127.0.0.1:{port}"
        first = processes.get("run") or processes["api"]
        first.wait_http(f"{api_url}/healthz")
        ledger_url = database_url or f"sqlite:///{workdir / 'var' / 'ledger.sqlite'}"
        engine = create_ledger_engine(ledger_url)
        yield Stack(api_url, token, env, engine, workdir, sandboxes, processes)
    finally:
        for process in processes.values():
            process.stop()
        for sandbox in sandboxes.values():
            sandbox.process.stop()
        if engine is not None:
            engine.dispose()
