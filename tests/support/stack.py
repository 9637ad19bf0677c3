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
import pytest
import yaml
from sqlalchemy import Engine

from intake.meldingstyper import MELDINGSTYPER
from ledger.content_crypto import KeyRing, new_key_line, parse_key_ring
from ledger.database import create_ledger_engine
from ledger.lifecycle import State
from ledger.records import Transition
from ledger.uow import UnitOfWork
from tests.support.processes import RelayProcess, free_port, run_relay, wait_for
from tests.support.reports import submission


@dataclass(frozen=True)
class RecipientSpec:
    id: str
    serves: tuple[str, ...]
    vendor: str = "rest-json"
    sandbox_args: tuple[str, ...] = ()  # fault flags for `relay sandbox`
    receipt: str = "strict"
    delivery: Mapping[str, Any] | None = None  # per-recipient overrides in the routes file
    start: bool = True  # False: the case system is down from the beginning
    case_system: str | None = None  # another recipient's (rest-json) sandbox; default: its own

    @property
    def konto(self) -> str:
        return f"konto-{self.id}"


# Settings for tests that break things: breakers, leases and the sweeper act within seconds.
FAST_RECOVERY = {
    "RELAY_SCHEDULER_TICK_SECONDS": "0.2",
    "RELAY_BREAKER_OPEN_SECONDS": "2",
    "RELAY_BREAKER_FAILURES": "3",
    "RELAY_DELIVERY_LEASE_SECONDS": "8",
    "RELAY_SWEEP_AFTER_SECONDS": "5",
}

DEFAULT_RECIPIENTS = (
    RecipientSpec("oslo", ("0301",)),
    RecipientSpec("bergen", ("4601",)),
)


@dataclass
class Sandbox:
    recipient: str
    url: str
    process: RelayProcess

    def start(self) -> None:
        self.spawn()
        self.wait_up()

    def spawn(self) -> None:
        self.process.start()

    def wait_up(self) -> None:
        self.process.wait_http(f"{self.url}/_sandbox/reports")

    def stop(self) -> None:
        self.process.stop()

    def stored(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = httpx.get(f"{self.url}/_sandbox/reports", timeout=10).json()
        return result

    def posts(self) -> list[dict[str, Any]]:
        """Every delivery attempt it received, with the fault that shaped its answer."""
        result: list[dict[str, Any]] = httpx.get(f"{self.url}/_sandbox/posts", timeout=30).json()
        return result

    def body(self, report_id: str) -> bytes:
        return httpx.get(f"{self.url}/_sandbox/reports/{report_id}/body", timeout=10).content

    def set_faults(self, **faults: Any) -> None:
        httpx.put(f"{self.url}/_sandbox/faults", json=faults, timeout=10).raise_for_status()


@dataclass
class Stack:
    api_url: str
    token: str
    env: dict[str, str]
    engine: Engine
    workdir: Path
    sandboxes: dict[str, Sandbox]
    processes: dict[str, RelayProcess] = field(default_factory=dict)
    api_urls: list[str] = field(default_factory=list)

    @property
    def keys(self) -> KeyRing:
        """The content key ring the stack's processes were given."""
        return parse_key_ring(self.env["RELAY_CONTENT_KEYS"], source="RELAY_CONTENT_KEYS")

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

    def submit_many(self, kommunenummer: str, count: int) -> list[str]:
        """`count` reports for one municipality, cycling through the four message types."""
        return [
            self.submit(
                submission(MELDINGSTYPER[n % 4], kommunenummer=kommunenummer, text=f"nr {n}")
            )
            for n in range(count)
        ]

    def state(self, report_id: str) -> State:
        with UnitOfWork(self.engine, self.keys) as uow:
            report = uow.reports.get(report_id)
        assert report is not None
        return report.state

    def history(self, report_id: str) -> list[Transition]:
        with UnitOfWork(self.engine, self.keys) as uow:
            return uow.reports.history(report_id)

    def wait_for_states(
        self, report_ids: list[str], states: set[State], timeout: float = 60
    ) -> None:
        def all_there() -> bool:
            for process in self.processes.values():
                if process.expected_alive and not process.alive and not process.supervised:
                    raise AssertionError(f"{process.name} exited:\n{process.log()[-3000:]}")
            return all(self.state(report_id) in states for report_id in report_ids)

        wait_for(all_there, timeout=timeout, message=f"reports reaching {sorted(states)}")

    def relay(self, *args: str) -> str:
        """Run a `relay` command (an operator's) against this stack."""
        return run_relay(list(args), self.env)

    def start_process(self, name: str, args: list[str]) -> RelayProcess:
        process = RelayProcess(name, args, self.env, self.workdir).start()
        self.processes[name] = process
        return process

    def assert_stored_once(self, recipient: str, report_ids: list[str]) -> None:
        """The recipient's case system holds exactly these reports, each stored once."""
        stored = [entry["id"] for entry in self.sandboxes[recipient].stored()]
        assert sorted(stored) == sorted(report_ids)
        assert len(set(stored)) == len(stored), "a report is stored more than once"

    def logs(self) -> str:
        every = list(self.processes.values()) + [s.process for s in self.sandboxes.values()]
        return "\n".join(process.log() for process in every)

    def write_routes(self, recipients: tuple[RecipientSpec, ...]) -> None:
        """Replace the routes file while the stack runs (atomically, as an operator should)."""
        write_routes(self.workdir / "routes.yaml", recipients, self.sandboxes)

    def relay_exit(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`relay …` with the stack's environment; the caller checks the exit status."""
        return subprocess.run(
            [sys.executable, "-m", "relay", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def secret_env(recipient: str) -> str:
    return f"RELAY_SECRET_{recipient.upper().replace('-', '_')}"


def prepare_sandbox(spec: RecipientSpec, workdir: Path, env: dict[str, str]) -> Sandbox:
    port = free_port()
    env[secret_env(spec.id)] = secrets.token_hex(32)
    args = ["sandbox", "--port", str(port), "--vendor", spec.vendor]
    args += ["--database", str(workdir / f"sandbox-{spec.id}.sqlite")]
    if spec.vendor == "fiks-io":
        args += ["--konto", spec.konto, "--receipt", spec.receipt]
    else:
        args += ["--secret-env", secret_env(spec.id)]
    process = RelayProcess(f"sandbox-{spec.id}", [*args, *spec.sandbox_args], env, workdir)
    return Sandbox(spec.id, f"http://127.0.0.1:{port}", process)


def write_routes(
    path: Path, recipients: tuple[RecipientSpec, ...], sandboxes: dict[str, Sandbox]
) -> None:
    entries = []
    for spec in recipients:
        entry: dict[str, Any] = {
            "id": spec.id,
            "name": f"Barneverntjenesten {spec.id}",
            "serves": list(spec.serves),
            "vendor": spec.vendor,
            "receipt": spec.receipt,
        }
        if spec.vendor == "fiks-io":
            entry["endpoint"] = f"fiksio://{spec.konto}"
        else:
            case_system = spec.case_system or spec.id
            entry["endpoint"] = sandboxes[case_system].url
            entry["secret_env"] = secret_env(case_system)
        if spec.delivery:
            entry["delivery"] = dict(spec.delivery)
        entries.append(entry)
    temporary = path.with_suffix(".tmp")  # replaced atomically: a running relay may read it
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
    workers: int = 1,
    worker_args: tuple[str, ...] = ("--pool", "prefork", "--concurrency", "2"),
    apis: int = 1,
    supervised: bool = False,
) -> Iterator[Stack]:
    """`supervised`: every relay process is started again when it exits on its own."""
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
        RELAY_VERIFY_DELAY_SECONDS="0.5",
        RELAY_OUTBOX_POLL_SECONDS="0.1",
        RELAY_SCHEDULER_TICK_SECONDS="0.2",
        RELAY_LOG_LEVEL="INFO",
        RELAY_CONTENT_KEYS=new_key_line("e2e-1"),
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
            if spec.case_system is not None:
                continue  # it shares another recipient's case system
            sandboxes[spec.id] = prepare_sandbox(spec, workdir, env)
            if spec.start:
                sandboxes[spec.id].spawn()  # they start while the ledger is migrated
        write_routes(workdir / "routes.yaml", recipients, sandboxes)
        run_relay(["db", "upgrade"], env)
        ports = [free_port() for _ in range(apis)]

        def process(name: str, args: list[str]) -> None:
            processes[name] = RelayProcess(name, args, env, workdir, supervised=supervised)

        if shape in ("embedded", "run"):
            process("run", ["run", "--port", str(ports[0])])
        elif shape == "split":
            for number, port in enumerate(ports):
                process("api" if number == 0 else f"api-{number + 1}", ["api", "--port", str(port)])
            for number in range(workers):
                name = "worker" if number == 0 else f"worker-{number + 1}"
                process(name, ["worker", *worker_args])
            process("scheduler", ["scheduler"])
        else:
            raise ValueError(f"unknown shape {shape}")
        for each in processes.values():
            each.start()
        for spec in recipients:
            if spec.case_system is None and spec.start:
                sandboxes[spec.id].wait_up()
        api_urls = [f"http://127.0.0.1:{port}" for port in ports]
        api_url = api_urls[0]
        serving = [p for name, p in processes.items() if name == "run" or name.startswith("api")]
        for server, url in zip(serving, api_urls, strict=True):
            server.wait_http(f"{url}/healthz")
        ledger_url = database_url or f"sqlite:///{workdir / 'var' / 'ledger.sqlite'}"
        engine = create_ledger_engine(ledger_url)
        yield Stack(api_url, token, env, engine, workdir, sandboxes, processes, api_urls)
    finally:  # all at once: each takes a moment to shut down cleanly
        stopping = [*processes.values(), *(sandbox.process for sandbox in sandboxes.values())]
        for each in stopping:
            each.terminate()
        for each in stopping:
            each.wait_stopped()
        if engine is not None:
            engine.dispose()


@dataclass(frozen=True)
class Broker:
    url: str
    key_prefix: str | None = None


@contextmanager
def split_stack(
    workdir: Path,
    database_url: str,
    broker: Broker,
    recipients: tuple[RecipientSpec, ...],
    extra_env: Mapping[str, str] | None = None,
    **options: Any,
) -> Iterator[Stack]:
    """The production shape (api, worker, scheduler) on PostgreSQL and the given broker."""
    with running_stack(
        workdir,
        "split",
        database_url=database_url,
        broker_url=broker.url,
        broker_key_prefix=broker.key_prefix,
        recipients=recipients,
        extra_env=extra_env,
        **options,
    ) as stack:
        yield stack


@contextmanager
def stack_for(
    request: pytest.FixtureRequest, workdir: Path, name: str, **options: Any
) -> Iterator[Stack]:
    """A stack by a test parameter's name: "embedded" (no servers), or "split-…"/"run-…" on
    the test's own PostgreSQL database and Redis key prefix."""
    shape = name.split("-")[0]
    if shape == "embedded":
        with running_stack(workdir, "embedded", **options) as stack:
            yield stack
        return
    redis = request.getfixturevalue("redis_broker")
    with running_stack(
        workdir,
        shape,
        database_url=request.getfixturevalue("postgres_url"),
        broker_url=redis.url,
        broker_key_prefix=redis.prefix,
        **options,
    ) as stack:
        yield stack
