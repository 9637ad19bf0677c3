"""`relay demo`: the whole pipeline on the embedded default, with simulated case systems.

Starts three simulated case systems (real HTTP servers on 127.0.0.1), writes a routes file,
starts `relay run` as a child process, submits reports built from the KS examples over
HTTP, waits until each is in a final state, and checks in each case system that every
report is stored exactly once with the content that was submitted.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
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
from intake.meldingstyper import MELDINGSTYPER
from intake.protocol import example
from relay.servers import ServerThread, bind

FINAL = {"DELIVERED", "VERIFIED", "DEAD_LETTERED", "HELD", "RESOLVED_MANUALLY"}
DELIVERED = {"DELIVERED", "VERIFIED"}
SUBMIT_THREADS = 8


@dataclass(frozen=True)
class DemoRecipient:
    id: str
    name: str
    kommunenummer: str
    kommunenavn: str
    bydelsnummer: str
    bydelsnavn: str


RECIPIENTS = (
    DemoRecipient("oslo", "Barneverntjenesten i Oslo", "0301", "Oslo", "01", "Gamle Oslo"),
    DemoRecipient("bergen", "Barneverntjenesten i Bergen", "4601", "Bergen", "02", "Bergenhus"),
    DemoRecipient(
        "trondheim", "Barneverntjenesten i Trondheim", "5001", "Trondheim", "01", "Midtbyen"
    ),
)


@dataclass
class Tracked:
    id: str
    recipient: str
    document: dict[str, Any]
    submitted_at: float
    status: str = "RECEIVED"
    final_at: float | None = None


@dataclass
class CaseSystem:
    recipient: DemoRecipient
    secret: str
    server: ServerThread
    checked: Counter[str] = field(default_factory=Counter)


def demo_document(number: int, recipient: DemoRecipient) -> tuple[str, dict[str, Any]]:
    meldingstype = MELDINGSTYPER[number % len(MELDINGSTYPER)]
    document = example(meldingstype)
    document.update(
        kommunenummer=recipient.kommunenummer,
        kommunenavn=recipient.kommunenavn,
        bydelsnummer=recipient.bydelsnummer,
        bydelsnavn=recipient.bydelsnavn,
    )
    text = f"Demomelding nr. {number}: dette er oppdiktet innhold."
    if isinstance(document.get("melding"), dict):
        document["melding"]["melding"] = text
    else:
        document["melding"] = text
    return meldingstype, document


def write_routes(path: Path, systems: list[CaseSystem]) -> dict[str, str]:
    environment: dict[str, str] = {}
    recipients = []
    for system in systems:
        variable = f"RELAY_SECRET_{system.recipient.id.upper().replace('-', '_')}"
        environment[variable] = system.secret
        recipients.append(
            {
                "id": system.recipient.id,
                "name": system.recipient.name,
                "serves": [system.recipient.kommunenummer],
                "vendor": "rest-json",
                "endpoint": system.server.url,
                "secret_env": variable,
            }
        )
    path.write_text(yaml.safe_dump({"recipients": recipients}, allow_unicode=True), "utf-8")
    return environment


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


def run_demo(*, reports: int, timeout: float) -> int:
    console = Console()
    workdir = Path("var") / "demo-runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir.resolve()
    systems = [
        CaseSystem(
            recipient, secret, ServerThread(create_sandbox_app(SandboxConfig(secret)), bind())
        )
        for recipient in RECIPIENTS
        for secret in [secrets.token_hex(32)]
    ]
    for system in systems:
        system.server.start()
    routes_file = workdir / "routes.yaml"
    token = secrets.token_urlsafe(32)
    port = free_port()
    environment = {
        **os.environ,
        **write_routes(routes_file, systems),
        "RELAY_DATA_DIR": str(workdir / "var"),
        "RELAY_ROUTES_FILE": str(routes_file),
        "RELAY_INTAKE_TOKENS": f"demo-portal:{token}",
        "RELAY_RETRY_BASE_SECONDS": "0.5",
        "RELAY_LOG_LEVEL": "INFO",
    }
    for name in ("RELAY_DATABASE_URL", "RELAY_BROKER_URL"):
        environment.pop(name, None)
    log_path = workdir / "relay.log"
    console.print(f"[bold]bekymring-relay demo[/]: {reports} reports, work files in {workdir}")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "relay", "run", "--port", str(port)],
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
        ) as client:
            wait_until_ready(client, process, log_path)
            tracked = submit_and_follow(console, client, reports, timeout)
        return report_results(console, tracked, systems)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        for system in systems:
            system.server.stop()


def submit_and_follow(
    console: Console, client: httpx.Client, count: int, timeout: float
) -> list[Tracked]:
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        submitting = progress.add_task("submitted", total=count)
        settled = progress.add_task("in a final state", total=count)

        def submit(number: int) -> Tracked:
            recipient = RECIPIENTS[number % len(RECIPIENTS)]
            meldingstype, document = demo_document(number, recipient)
            response = client.post(
                "/v1/reports",
                json={"meldingstype": meldingstype, "bekymringsmelding": document},
                headers={"Idempotency-Key": f"demo-{number}-{secrets.token_hex(8)}"},
            )
            if response.status_code != 202:
                raise RuntimeError(f"intake answered {response.status_code} for report {number}")
            progress.advance(submitting)
            return Tracked(response.json()["id"], recipient.id, document, time.monotonic())

        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            tracked = list(pool.map(submit, range(count)))

        deadline = time.monotonic() + timeout
        pending = list(tracked)
        while pending and time.monotonic() < deadline:
            time.sleep(0.25)
            with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
                statuses = list(pool.map(lambda t: client.get(f"/v1/reports/{t.id}"), pending))
            still = []
            for item, response in zip(pending, statuses, strict=True):
                item.status = response.json()["status"]
                if item.status in FINAL:
                    item.final_at = time.monotonic()
                    progress.advance(settled)
                else:
                    still.append(item)
            pending = still
        if pending:
            console.print(f"[red]{len(pending)} reports not final after {timeout:g} s[/]")
    return tracked


def check_case_systems(tracked: list[Tracked], systems: list[CaseSystem]) -> None:
    """Count, per case system, the reports stored exactly once with the submitted content."""
    by_id = {item.id: item for item in tracked}
    for system in systems:
        with httpx.Client(base_url=system.server.url, timeout=30) as client:
            stored = client.get("/_sandbox/reports").json()
            for entry in stored:
                item = by_id.get(entry["id"])
                body = client.get(f"/_sandbox/reports/{entry['id']}/body").content
                proven = (
                    item is not None
                    and item.recipient == system.recipient.id
                    and json.loads(body)["bekymringsmelding"] == item.document
                    and entry["sha256"] == sha256_hex(body)
                )
                system.checked["proven" if proven else "wrong"] += 1


def report_results(console: Console, tracked: list[Tracked], systems: list[CaseSystem]) -> int:
    check_case_systems(tracked, systems)
    table = Table(
        title="Reports per recipient",
        caption="proven: stored once in the case system, same content, same sha256",
    )
    for column in ("recipient", "submitted", "delivered", "held", "dead", "open", "proven", "s"):
        table.add_column(column, justify="left" if column == "recipient" else "right")
    everything_delivered = True
    for system in systems:
        mine = [item for item in tracked if item.recipient == system.recipient.id]
        states = Counter(item.status for item in mine)
        delivered = sum(states[s] for s in DELIVERED)
        finished = [item.final_at - item.submitted_at for item in mine if item.final_at]
        not_final = sum(1 for item in mine if item.status not in FINAL)
        ok = delivered == len(mine) == system.checked["proven"] and not system.checked["wrong"]
        everything_delivered &= ok
        table.add_row(
            system.recipient.id,
            str(len(mine)),
            str(delivered),
            str(states["HELD"]),
            str(states["DEAD_LETTERED"]),
            str(not_final),
            f"{system.checked['proven']}" + ("" if ok else " [red]✗[/]"),
            f"{max(finished):.1f}" if finished else "-",
        )
    console.print(table)
    if everything_delivered:
        console.print("[green]Every report was delivered and is stored exactly once.[/]")
        return 0
    console.print("[red]Not every report was delivered; see the table and relay.log.[/]")
    return 1
