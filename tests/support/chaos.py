"""The chaos harness: the production shape under faults on a schedule while reports arrive,
then every invariant counted. Used by tests/chaos (a CI size) and benchmarks/chaos.py (long).

The stack: a private PostgreSQL and a private broker (Redis or RabbitMQ) that may be killed
and restarted, two APIs, two prefork workers and one scheduler, each supervised (started
again when it exits, as systemd or compose would; the harness never restarts them), and
six case systems: healthy, dropping (acknowledges and stores nothing, the 2020-2023 bug),
flaky (503s, and stores then fails), damaging (stores a damaged copy), refusing, and a
fiks-io mailbox whose receipts come back through the broker.
Reports arrive from several threads through `IntakeClient`, which retries with the same
Idempotency-Key; some are sent twice on purpose. After each fault a probe report must be
delivered within a bound: the pipeline moves again by itself.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from kombu.connection import Connection

from intake.client import IntakeClient, IntakeError
from intake.meldingstyper import MELDINGSTYPER
from ledger.chain import first_break
from ledger.lifecycle import State
from ledger.records import DeadLetterKind
from ledger.uow import UnitOfWork
from tests.support.reports import document
from tests.support.servers import PrivatePostgres, PrivateRabbitMQ, PrivateRedis
from tests.support.stack import FAST_RECOVERY, RecipientSpec, Stack, running_stack

CANARY = "Kanarifugl Kaosdottir"
FINAL = {State.VERIFIED, State.DEAD_LETTERED, State.HELD, State.RESOLVED_MANUALLY}

RECIPIENTS = (
    RecipientSpec("healthy", ("3201",), sandbox_args=("--latency", "0.2")),
    RecipientSpec("dropping", ("4601",), sandbox_args=("--drop-rate", "0.1", "--seed", "1")),
    RecipientSpec(
        "flaky", ("5001",), sandbox_args=("--error-rate", "0.2", "--store-then-fail-rate", "0.05")
    ),
    RecipientSpec("damaging", ("1103",), sandbox_args=("--damage-rate", "0.05", "--seed", "3")),
    RecipientSpec("refusing", ("3301",), sandbox_args=("--reject-kommunenummer", "3301")),
    RecipientSpec("mailbox", ("1804",), vendor="fiks-io"),  # receipts through the broker
)
PLACES = [(spec.id, spec.serves[0]) for spec in RECIPIENTS]
FIKS_IO_QUEUES = ("fiksio.konto.konto-mailbox", "fiksio.konto.relay")

SETTINGS = {
    **FAST_RECOVERY,
    "RELAY_VERIFY_DELAY_SECONDS": "1",
    "RELAY_HEARTBEAT_SECONDS": "1",
    "RELAY_WORKER_STALL_SECONDS": "10",
    "RELAY_RETRY_MAX_ATTEMPTS": "200",  # faults must not exhaust a deliverable report
    "RELAY_RETRY_CAP_SECONDS": "5",
    "RELAY_RECEIPT_DEADLINE_SECONDS": "20",  # a receipt the broker lost is waited for 20 s
    "RELAY_LOG_LEVEL": "INFO",
}

FAULTS = (
    "kill-worker",
    "kill-scheduler",
    "kill-api",
    "flushall",
    "broker-restart",
    "pg-terminate",
    "pg-restart",
)


@dataclass(frozen=True)
class Sent:
    key: str
    recipient: str
    ids: tuple[str, ...]  # every 202's id for this key (the same one, or the invariant fails)
    accepted_at: float


@dataclass
class Recovery:
    fault: str
    at: float  # seconds since the load started
    seconds: float | None  # fault to the probe's delivery; None: not within the bound


@dataclass
class ChaosResult:
    broker: str
    accepted: int = 0
    states: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    wrong_end: list[str] = field(default_factory=list)
    not_stored_once: list[str] = field(default_factory=list)
    keys_with_two_ids: list[str] = field(default_factory=list)
    drops: int = 0
    drops_detected: int = 0  # a MISSING followed the false receipt
    drops_unrecorded: int = 0  # the attempt's answer never reached the ledger (lease ran out)
    damaged: int = 0
    damaged_dead_lettered: int = 0
    canary_seen_in: list[str] = field(default_factory=list)
    chain_breaks: list[str] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)
    longest_wait_seconds: float = 0.0
    restarts: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0

    def violations(self, recovery_bound: float) -> list[str]:
        found = [
            f"{name}: {len(items)} ({', '.join(items[:5])})"
            for name, items in (
                ("lost", self.lost),
                ("stuck", self.stuck),
                ("ended in the wrong state", self.wrong_end),
                ("not stored exactly once with our hash", self.not_stored_once),
                ("Idempotency-Key answered with two ids", self.keys_with_two_ids),
                ("canary seen", self.canary_seen_in),
                ("hash chain broken", self.chain_breaks),
            )
            if items
        ]
        if self.drops_detected + self.drops_unrecorded < self.drops:
            found.append(
                f"silent drops: {self.drops} made, {self.drops_detected} detected,"
                f" {self.drops_unrecorded} never recorded as delivered"
            )
        if self.damaged_dead_lettered < self.damaged:
            found.append(f"damaged copies caught: {self.damaged_dead_lettered} of {self.damaged}")
        for recovery in self.recoveries:
            if recovery.seconds is None or recovery.seconds > recovery_bound:
                found.append(f"{recovery.fault} at {recovery.at:.0f} s: not moving again")
        return found

    def summary(self) -> dict[str, Any]:
        moving = sorted(r.seconds for r in self.recoveries if r.seconds is not None)
        return {
            "broker": self.broker,
            "accepted": self.accepted,
            "final_states": dict(self.states),
            "lost": len(self.lost),
            "stuck": len(self.stuck),
            "duplicated_or_wrong_hash": len(self.not_stored_once),
            "wrong_end": len(self.wrong_end),
            "silent_drops": (
                f"{self.drops} made: {self.drops_detected} detected, "
                f"{self.drops_unrecorded} never taken as delivered (worker lost mid-attempt)"
            ),
            "damaged": f"{self.damaged_dead_lettered}/{self.damaged} dead-lettered",
            "faults": len(self.recoveries),
            "moving_again_p50_s": round(moving[len(moving) // 2], 1) if moving else None,
            "moving_again_max_s": round(moving[-1], 1) if moving else None,
            "longest_wait_s": round(self.longest_wait_seconds, 1),
            "process_exits": self.restarts,
            "seconds": round(self.seconds, 1),
        }


class Brokers:
    """The private broker: Redis (restarts empty) or RabbitMQ (quorum queues survive)."""

    def __init__(self, kind: str, folder: Path) -> None:
        self.kind = kind
        self.server: PrivateRedis | PrivateRabbitMQ = (
            PrivateRedis(folder) if kind == "redis" else PrivateRabbitMQ()
        )

    def messages(self) -> list[bytes]:
        """What the broker holds now (message bodies and headers, as bytes)."""
        if isinstance(self.server, PrivateRedis):
            client = redis.Redis.from_url(self.server.url, socket_timeout=5)
            values: list[bytes | str] = []
            for key in client.scan_iter(count=1000):
                kind = client.type(key)
                if kind == b"list":
                    values.extend(client.lrange(key, 0, -1))
                elif kind == b"hash":
                    values.extend(client.hvals(key))
                elif kind == b"string":
                    values.append(client.get(key) or b"")
            return [v if isinstance(v, bytes) else v.encode() for v in values]
        found = []
        with Connection(self.server.url, connect_timeout=5) as connection:
            channel = connection.channel()
            for queue in ("route", "deliver.rest-json", "deliver.fiks-io", *FIKS_IO_QUEUES):
                with contextlib.suppress(Exception):
                    while (message := channel.basic_get(queue, no_ack=False)) is not None:
                        found.append(message.body if isinstance(message.body, bytes) else b"")
            channel.close()  # unacknowledged: every message goes back to its queue
        return found


@contextmanager
def chaos_stack(
    workdir: Path, broker_kind: str
) -> Iterator[tuple[Stack, Brokers, PrivatePostgres]]:
    postgres = PrivatePostgres()
    brokers = Brokers(broker_kind, workdir)
    try:
        postgres.start()
        brokers.server.start()
        with running_stack(
            workdir,
            "split",
            database_url=postgres.url,
            broker_url=brokers.server.url,
            recipients=RECIPIENTS,
            extra_env=SETTINGS,
            workers=2,
            apis=2,
            supervised=True,
        ) as stack:
            yield stack, brokers, postgres
    finally:
        brokers.server.close()
        postgres.close()


class Load:
    """Reports from several threads, round-robin over the APIs, each with its own key."""

    def __init__(
        self, stack: Stack, total: int, threads: int, rate: float = 50.0, seed: int = 7
    ) -> None:
        self.stack = stack
        self.total = total
        self.threads = threads
        self.pause = threads / rate  # each thread's pause between reports
        self.sent: list[Sent] = []
        self.failures: list[str] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._workers: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True, name=f"load-{n}")
            thread.start()
            self._workers.append(thread)

    def join(self, timeout: float) -> None:
        """Wait for the load to finish; after `timeout`, stop it where it is."""
        deadline = time.monotonic() + timeout
        for thread in self._workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        for thread in self._workers:
            thread.join(30)

    def submit(self, recipient: str, kommunenummer: str, number: int, twice: bool = False) -> Sent:
        """One report (sent twice with the same key when `twice`), retried until accepted."""
        key = str(uuid.uuid4())
        meldingstype = MELDINGSTYPER[number % len(MELDINGSTYPER)]
        body = document(meldingstype, kommunenummer=kommunenummer, text=f"{CANARY} nr {number}")
        ids = []
        for _ in range(2 if twice else 1):
            ids.append(self._submit_until_accepted(number, meldingstype, body, key))
        return Sent(key, recipient, tuple(ids), time.monotonic())

    def _submit_until_accepted(
        self, number: int, meldingstype: str, body: dict[str, Any], key: str
    ) -> str:
        deadline = time.monotonic() + 300
        urls = self.stack.api_urls
        attempt = 0
        while True:
            url = urls[(number + attempt) % len(urls)]
            attempt += 1
            try:
                with IntakeClient(url, self.stack.token, timeout=10) as client:
                    return client.submit(meldingstype, body, idempotency_key=key).id
            except IntakeError as error:
                if time.monotonic() > deadline:
                    raise AssertionError(f"report {number} never accepted: {error}") from None
                time.sleep(0.5)

    def _run(self, thread: int) -> None:
        while not self._stop.is_set() and (number := next(self._numbers)) < self.total:
            recipient, kommunenummer = PLACES[number % len(PLACES)]
            try:
                sent = self.submit(recipient, kommunenummer, number, twice=number % 10 == 3)
            except AssertionError as error:
                with self._lock:
                    self.failures.append(str(error))
                continue
            with self._lock:
                self.sent.append(sent)
            time.sleep(self._random.uniform(0.5, 1.5) * self.pause)


def inject(fault: str, stack: Stack, brokers: Brokers, postgres: PrivatePostgres) -> None:
    processes = stack.processes
    if fault == "kill-worker":
        processes[random.choice(["worker", "worker-2"])].crash()
    elif fault == "kill-scheduler":
        processes["scheduler"].crash()
    elif fault == "kill-api":
        processes[random.choice(["api", "api-2"])].crash()
    elif fault == "flushall":
        assert isinstance(brokers.server, PrivateRedis)
        brokers.server.flushall()
    elif fault == "broker-restart":
        brokers.server.restart(down_seconds=1)
    elif fault == "pg-terminate":
        postgres.terminate_connections()
    elif fault == "pg-restart":
        postgres.restart()
    else:
        raise ValueError(f"unknown fault {fault}")


def schedule(
    kinds: list[str], count: int, first_at: float, spacing: float
) -> list[tuple[float, str]]:
    """`count` faults, cycling through `kinds`, `spacing` seconds apart."""
    return [(first_at + n * spacing, kinds[n % len(kinds)]) for n in range(count)]


def run_chaos(
    workdir: Path,
    broker_kind: str,
    *,
    reports: int,
    threads: int,
    rate: float,
    faults: list[tuple[float, str]],
    recovery_bound: float = 90.0,
    settle_timeout: float = 300.0,
    progress: Callable[[str], None] = lambda _: None,
) -> ChaosResult:
    result = ChaosResult(broker_kind)
    with chaos_stack(workdir, broker_kind) as (stack, brokers, postgres):
        load = Load(stack, reports, threads, rate)
        started = time.monotonic()  # fault times count from the first report
        load.start()
        probes = Load(stack, 0, 0)
        for number, (at, fault) in enumerate(faults):
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            fault_at = time.monotonic()
            progress(f"{fault_at - started:6.0f} s  {fault}")
            inject(fault, stack, brokers, postgres)
            probe = probes.submit("healthy", "3201", 100_000 + number)
            seconds = _until_delivered(stack, probe.ids[0], fault_at, recovery_bound)
            result.recoveries.append(Recovery(fault, fault_at - started, seconds))
            load.sent.append(probe)
            _look_for_canary(stack, brokers, result)
        load.join(timeout=settle_timeout)
        progress(f"{time.monotonic() - started:6.0f} s  load done: {len(load.sent)} accepted")
        assert not load.failures, load.failures[:3]
        _settle(stack, load.sent, settle_timeout)
        _look_for_canary(stack, brokers, result)
        _check(stack, load.sent, result)
        result.restarts = {name: p.exits for name, p in stack.processes.items() if p.exits}
        result.seconds = time.monotonic() - started
    return result


def _state(stack: Stack, report_id: str) -> State | None:
    with contextlib.suppress(Exception), UnitOfWork(stack.engine, stack.keys) as uow:
        report = uow.reports.get(report_id)
        return report.state if report else None
    return None


def _until_delivered(stack: Stack, report_id: str, since: float, bound: float) -> float | None:
    reached = {State.DELIVERED, State.VERIFIED}
    while time.monotonic() - since < bound:
        if _state(stack, report_id) in reached:
            return time.monotonic() - since
        time.sleep(0.2)
    return None


def _settle(stack: Stack, sent: list[Sent], timeout: float) -> None:
    """Wait until every accepted report is in a final state (or the timeout)."""
    deadline = time.monotonic() + timeout
    pending = {report_id for each in sent for report_id in each.ids}
    while pending and time.monotonic() < deadline:
        pending = {r for r in pending if _state(stack, r) not in FINAL}
        time.sleep(1.0)


def _look_for_canary(stack: Stack, brokers: Brokers, result: ChaosResult) -> None:
    canary = CANARY.encode()
    with contextlib.suppress(Exception):
        if any(canary in message for message in brokers.messages()):
            result.canary_seen_in.append("a broker message")
    for name, process in stack.processes.items():
        if CANARY in process.log() and name not in result.canary_seen_in:
            result.canary_seen_in.append(f"the log of {name}")


def _check(stack: Stack, sent: list[Sent], result: ChaosResult) -> None:
    stored = {spec.id: stack.sandboxes[spec.id].stored() for spec in RECIPIENTS}
    posts = {spec.id: stack.sandboxes[spec.id].posts() for spec in RECIPIENTS}
    copies = {
        recipient: Counter(entry["id"] for entry in entries)
        for recipient, entries in stored.items()
    }
    hashes = {
        recipient: {entry["id"]: entry["sha256"] for entry in entries}
        for recipient, entries in stored.items()
    }
    result.accepted = len(sent)
    for each in sent:
        if len(set(each.ids)) != 1:
            result.keys_with_two_ids.append(each.key)
        report_id = each.ids[0]
        with UnitOfWork(stack.engine, stack.keys) as uow:
            report = uow.reports.get(report_id)
            history = uow.reports.history(report_id) if report else []
        if report is None:
            result.lost.append(report_id)
            continue
        result.states[report.state.value] += 1
        if first_break(history) is not None:
            result.chain_breaks.append(report_id)
        if report.state not in FINAL:
            result.stuck.append(report_id)
            continue
        waited = (report.updated_at - report.received_at).total_seconds()
        result.longest_wait_seconds = max(result.longest_wait_seconds, waited)
        if not _ended_as_expected(each.recipient, report.state, report.state_kind, history):
            result.wrong_end.append(f"{report_id} {report.state.value}:{report.state_kind}")
        if report.state is State.VERIFIED and (
            copies[each.recipient][report_id] != 1
            or hashes[each.recipient].get(report_id) != report.delivery_sha256
        ):
            result.not_stored_once.append(report_id)
    dropped = [p["id"] for p in posts["dropping"] if p["note"] == "dropped"]
    result.drops = len(dropped)
    for report_id, drops in Counter(dropped).items():
        missing, abandoned = _missing_and_abandoned(stack, report_id)
        result.drops_detected += min(drops, missing)
        result.drops_unrecorded += min(drops - min(drops, missing), abandoned)
    damaged = {p["id"] for p in posts["damaging"] if p["note"] == "damaged"}
    result.damaged = len(damaged)
    result.damaged_dead_lettered = sum(
        1 for report_id in damaged if _kind(stack, report_id) == DeadLetterKind.CONTENT_MISMATCH
    )


def _ended_as_expected(recipient: str, state: State, kind: str | None, history: list[Any]) -> bool:
    if recipient == "refusing":
        return state is State.DEAD_LETTERED and kind == DeadLetterKind.REJECTED
    if recipient == "damaging" and state is State.DEAD_LETTERED:
        return kind == DeadLetterKind.CONTENT_MISMATCH
    if recipient == "dropping" and state is State.DEAD_LETTERED:
        return kind == DeadLetterKind.MISSING  # lost three times: parked, loudly
    return state is State.VERIFIED


def _missing_and_abandoned(stack: Stack, report_id: str) -> tuple[int, int]:
    """How often the report was found missing after a receipt, and how often an attempt of
    it was abandoned (its outcome never recorded: a drop then cannot be a false receipt)."""
    with UnitOfWork(stack.engine, stack.keys) as uow:
        history = uow.reports.history(report_id)
    missing = sum(t.to_state is State.MISSING for t in history)
    abandoned = sum(
        t.to_state is State.ROUTED and t.from_state is State.DELIVERING for t in history
    )
    return missing, abandoned


def _kind(stack: Stack, report_id: str) -> str | None:
    with UnitOfWork(stack.engine, stack.keys) as uow:
        report = uow.reports.get(report_id)
    return report.state_kind if report and report.state is State.DEAD_LETTERED else None


def stamp() -> str:
    return datetime.now().strftime("%H:%M:%S")
