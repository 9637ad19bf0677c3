"""`relay demo`: the whole pipeline on the embedded default, with simulated case systems.

Starts the simulated case systems (real HTTP servers on 127.0.0.1), writes a routes file,
starts `relay run` as a child process, submits the scenario's reports over HTTP, waits
until each is in a final state, and checks in the case systems that every report is
stored exactly once, with the content that was submitted, at the recipient it was meant for.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deliverers.body import sha256_hex
from deliverers.sandbox.app import SandboxConfig, create_sandbox_app
from deliverers.sandbox.faults import Faults
from deliverers.sandbox.store import SandboxStore
from relay.demo_scenario import (
    CASE_SYSTEMS,
    RECIPIENTS,
    DemoReport,
    demo_reports,
    routes_document,
    secret_env,
)
from relay.servers import ServerThread, bind

FINAL = {"VERIFIED", "DEAD_LETTERED", "HELD", "RESOLVED_MANUALLY"}
HTTP_THREADS = 8


@dataclass
class Tracked:
    id: str
    report: DemoReport
    submitted_at: float
    expected: str  # "delivered", or "dead-lettered" for a report the case system refuses
    status: str = "RECEIVED"
    recipient: str | None = None
    final_at: float | None = None
    history: list[dict[str, str]] = field(default_factory=list)

    def detections(self) -> list[float]:
        """Seconds from each false receipt (DELIVERED) to its discovery (MISSING)."""
        found = []
        for before, after in itertools.pairwise(self.history):
            if before["status"] == "DELIVERED" and after["status"] == "MISSING":
                delivered = datetime.fromisoformat(before["at"])
                found.append((datetime.fromisoformat(after["at"]) - delivered).total_seconds())
        return found


class CaseSystem:
    """A simulated case system in this process, which can go down and come back."""

    def __init__(self, secrets_by_recipient: dict[str, str], faults: Faults) -> None:
        self.store = SandboxStore()
        self.app = create_sandbox_app(
            SandboxConfig(secrets_by_recipient, faults=faults), self.store
        )
        self.server = ServerThread(self.app, bind())
        self.port: int = self.server.sock.getsockname()[1]
        self.url = self.server.url

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def outage(self, after: float, length: float) -> threading.Thread:
        """Refuse connections from `after` seconds from now, for `length` seconds."""

        def down_and_up() -> None:
            time.sleep(after)
            self.server.stop()
            time.sleep(length)
            self.server = ServerThread(self.app, bind(port=self.port))
            self.server.start()

        thread = threading.Thread(target=down_and_up, daemon=True, name="outage")
        thread.start()
        return thread


def demo_faults(enabled: bool) -> tuple[list[Faults], str | None]:
    """Faults per case system, and the recipient whose case system refuses its reports."""
    if not enabled:
        return [Faults() for _ in range(CASE_SYSTEMS)], None
    plans = [
        Faults(error_rate=0.25, latency_seconds=0.05, seed=1),
        Faults(drop_rate=0.3, store_then_fail_rate=0.2, seed=2),  # the 2020-2023 bug
        Faults(seed=3),
    ]
    refused = RECIPIENTS[-1]
    plans[refused.case_system].reject_recipients = frozenset({refused.id})
    return plans, refused.id


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
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"relay run did not become ready; see {log}")


def run_demo(*, reports: int, timeout: float, faults: bool = False) -> int:
    console = Console()
    workdir = Path("var") / "demo-runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()
    secret_of = {recipient.id: secrets.token_hex(32) for recipient in RECIPIENTS}
    fault_plan, refused = demo_faults(faults)
    case_systems = [CaseSystem(secret_of, plan) for plan in fault_plan]
    for system in case_systems:
        system.start()
    if faults:
        case_systems[0].outage(after=1.0, length=6.0)
    routes_file = workdir / "routes.yaml"
    routes = routes_document([system.url for system in case_systems])
    routes_file.write_text(yaml.safe_dump(routes, allow_unicode=True, sort_keys=False), "utf-8")
    token = secrets.token_urlsafe(32)
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RELAY_")},
        **{secret_env(recipient): secret for recipient, secret in secret_of.items()},
        "RELAY_DATA_DIR": str(workdir / "var"),
        "RELAY_ROUTES_FILE": str(routes_file),
        "RELAY_INTAKE_TOKENS": f"demo-portal:{token}",
        "RELAY_RETRY_BASE_SECONDS": "0.5",
        "RELAY_VERIFY_DELAY_SECONDS": "1",
        "RELAY_BREAKER_FAILURES": "3",
        "RELAY_BREAKER_OPEN_SECONDS": "2",
        "RELAY_LOG_LEVEL": "INFO",
    }
    log_path = workdir / "relay.log"
    console.print(f"[bold]bekymring-relay demo[/]: {reports} reports, work files in {workdir}")
    if faults:
        console.print(
            "faults: case system 1 answers 503 to 25% and goes down for 6 s; case system 2 "
            "acknowledges 30% with a valid-looking receipt and stores nothing (the 2020-2023 "
            f"bug), and stores, then fails 20%; every report for {refused} is refused"
        )
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
            tracked = submit_and_follow(console, client, demo_reports(reports), timeout, refused)
        return report_results(console, tracked, case_systems)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        for system in case_systems:
            system.stop()


def submit_and_follow(
    console: Console,
    client: httpx.Client,
    reports: list[DemoReport],
    timeout: float,
    refused: str | None,
) -> list[Tracked]:
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        submitting = progress.add_task("submitted", total=len(reports))
        settled = progress.add_task("in a final state", total=len(reports))

        def submit(numbered: tuple[int, DemoReport]) -> Tracked:
            number, report = numbered
            response = client.post(
                "/v1/reports",
                json={"meldingstype": report.meldingstype, "bekymringsmelding": report.document},
                headers={"Idempotency-Key": f"demo-{number}-{secrets.token_hex(8)}"},
            )
            if response.status_code != 202:
                raise RuntimeError(f"intake answered {response.status_code} for report {number}")
            progress.advance(submitting)
            expected = "dead-lettered" if report.recipient == refused else "delivered"
            return Tracked(response.json()["id"], report, time.monotonic(), expected)

        with ThreadPoolExecutor(HTTP_THREADS) as pool:
            tracked = list(pool.map(submit, enumerate(reports)))

        deadline = time.monotonic() + timeout
        pending = list(tracked)
        while pending and time.monotonic() < deadline:
            time.sleep(0.25)
            with ThreadPoolExecutor(HTTP_THREADS) as pool:
                views = list(pool.map(lambda t: client.get(f"/v1/reports/{t.id}").json(), pending))
            still = []
            for item, view in zip(pending, views, strict=True):
                item.status, item.recipient = view["status"], view["recipient"]
                item.history = view["history"]
                if item.status in FINAL:
                    item.final_at = time.monotonic()
                    progress.advance(settled)
                else:
                    still.append(item)
            pending = still
        if pending:
            console.print(f"[red]{len(pending)} reports not final after {timeout:g} s[/]")
    return tracked


def proven_stored(tracked: list[Tracked], case_systems: list[CaseSystem]) -> Counter[str]:
    """Per recipient, the reports its case system stored once, unchanged, with the right hash."""
    by_id = {item.id: item for item in tracked}
    proven: Counter[str] = Counter()
    for system in case_systems:
        for stored in system.store.all():
            item = by_id.get(stored.id)
            body = system.store.body(stored.id) or b"{}"
            envelope: dict[str, Any] = json.loads(body)
            if (
                item is not None
                and envelope["mottaker"]["recipient"] == item.report.recipient
                and envelope["bekymringsmelding"] == item.report.document
                and stored.sha256 == sha256_hex(body)
            ):
                proven[item.report.recipient] += 1
    return proven


def report_results(console: Console, tracked: list[Tracked], case_systems: list[CaseSystem]) -> int:
    proven = proven_stored(tracked, case_systems)
    table = Table(
        title="Reports per recipient",
        caption=(
            "verified: read back from the case system; proven: stored once at the right "
            "recipient, same content and sha256; caught: acknowledged, not stored, found"
        ),
    )
    columns = (
        "recipient",
        "submitted",
        "verified",
        "held",
        "dead",
        "open",
        "proven",
        "caught",
        "s",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "recipient" else "right")
    detections = [seconds for item in tracked for seconds in item.detections()]
    everything_delivered = True
    for recipient in RECIPIENTS:
        mine = [item for item in tracked if item.report.recipient == recipient.id]
        if not mine:
            continue
        states = Counter(item.status for item in mine)
        delivered = sum(
            1 for item in mine if item.status == "VERIFIED" and item.recipient == recipient.id
        )
        finished = [item.final_at - item.submitted_at for item in mine if item.final_at]
        deliverable = sum(1 for item in mine if item.expected == "delivered")
        parked_as_expected = all(
            item.status == "DEAD_LETTERED" for item in mine if item.expected == "dead-lettered"
        )
        ok = delivered == deliverable == proven[recipient.id] and parked_as_expected
        everything_delivered &= ok
        table.add_row(
            recipient.id,
            str(len(mine)),
            str(delivered),
            str(states["HELD"]),
            str(states["DEAD_LETTERED"]),
            str(sum(1 for item in mine if item.status not in FINAL)),
            f"{proven[recipient.id]}" + ("" if ok else " [red]✗[/]"),
            str(sum(1 for item in mine if item.detections())),
            f"{max(finished):.1f}" if finished else "-",
        )
    console.print(table)
    if detections:
        console.print(
            f"Acknowledged but not stored: {len(detections)} times caught by read-back and "
            f"delivered again; longest from false receipt to detection {max(detections):.1f} s."
        )
    if everything_delivered:
        console.print(
            "[green]Every deliverable report was delivered, verified and is stored exactly once; "
            "every refused one is dead-lettered with its reason.[/]"
        )
        return 0
    console.print("[red]Not every report ended as it should; see the table and relay.log.[/]")
    return 1
