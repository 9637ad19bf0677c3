"""`relay demo`: the whole pipeline on the embedded default, with simulated case systems.

Starts the simulated case systems (real HTTP servers on 127.0.0.1), writes a routes file,
starts `relay run` as a child process, submits the scenario's reports over HTTP, waits
until each is in a final state, and checks in the case systems that every report is
stored exactly once, with the content that was submitted, at the recipient it was meant for.
"""

from __future__ import annotations

import itertools
import json
import secrets
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deliverers.sandbox.faults import Faults
from ledger.digest import sha256_hex
from relay.demo.scenario import CASE_SYSTEMS, RECIPIENTS, DemoReport, demo_reports
from relay.demo.stack import CaseSystem, demo_stack

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


def run_demo(*, reports: int, timeout: float, faults: bool = False) -> int:
    console = Console()
    workdir = Path("var") / "demo-runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    fault_plan, refused = demo_faults(faults)
    console.print(f"[bold]bekymring-relay demo[/]: {reports} reports, work files in {workdir}")
    if faults:
        console.print(
            "faults: case system 1 answers 503 to 25% and goes down for 6 s; case system 2 "
            "acknowledges 30% with a valid-looking receipt and stores nothing (the 2020-2023 "
            f"bug), and stores, then fails 20%; every report for {refused} is refused"
        )
    with demo_stack(workdir, fault_plan) as stack:
        if faults:
            stack.case_systems[0].outage(after=1.0, length=6.0)
        tracked = submit_and_follow(console, stack.client, demo_reports(reports), timeout, refused)
        status = report_results(console, tracked, stack.case_systems)
    show_ledger(console, workdir / "var", tracked)
    return status


def show_ledger(console: Console, data_dir: Path, tracked: list[Tracked]) -> None:
    """Where the demo's ledger is, and the commands that look into it (from this folder)."""
    relay = f"RELAY_DATA_DIR={data_dir} {relay_command()}"
    console.print(f"The demo's ledger is {data_dir / 'ledger.sqlite'}; look into it with:")
    if tracked:
        console.print(f"  {relay} status {tracked[0].id}", soft_wrap=True, highlight=False)
    for command in ("health", "dlq list", "held list"):
        console.print(f"  {relay} {command}", soft_wrap=True, highlight=False)


def relay_command() -> str:
    """`relay` as this process was started: the script's path as typed, else `python -m`."""
    script = sys.argv[0] if sys.argv else ""
    if Path(script).name == "relay":
        return script
    return f"{sys.executable} -m relay"


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
            "delivered: VERIFIED, read back from the case system; proven: stored once at the "
            "right recipient, same content and sha256; caught: acknowledged, not stored, found; "
            "s: seconds from submitting to the last final state"
        ),
    )
    columns = (
        "recipient",
        "submitted",
        "delivered",
        "held",
        "dead",
        "open",
        "proven",
        "caught",
        "s",
    )
    widest = max((len(recipient.id) for recipient in RECIPIENTS), default=9)
    table.add_column(columns[0], no_wrap=True, min_width=widest)  # ids in full, always
    for column in columns[1:]:
        table.add_column(column, justify="right")
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
