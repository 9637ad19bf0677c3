"""Report content on real databases: sealed at rest, erased after its time in a final state
and never before, read by a person only with a record of it, re-wrapped by a key rotation."""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError

from deliverers.stage import body_for, delivered_bytes
from ledger import schema
from ledger.access import read_content
from ledger.chain import chain_break
from ledger.content_crypto import ContentKey, ContentUnreadable, KeyRing
from ledger.key_rotation import remaining, rotate
from ledger.lifecycle import State
from ledger.records import StateKind
from ledger.retention import erase_due
from ledger.uow import UnitOfWork
from relay.bootstrap import StartupError, bootstrap
from relay.settings import Settings
from tests.support.ledger import TEST_KEYS, report_in

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
CANARY = "Kanarifugl Lagret-Ærlig"
DOCUMENT = f'{{"melding":"{CANARY}"}}'.encode()
NEW_KEY = ContentKey("test-2", bytes(range(100, 132)))


def stored_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(schema.report_contents))]


def test_content_is_stored_sealed_and_opens_with_the_ring(ledger_engine: Engine) -> None:
    report_id = report_in(ledger_engine, State.RECEIVED, T0, DOCUMENT)
    [row] = stored_rows(ledger_engine)
    assert CANARY.encode() not in b"".join(v for v in row if isinstance(v, bytes))
    assert row[2] == "test-1"
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        assert uow.reports.document(report_id) == DOCUMENT
    with UnitOfWork(ledger_engine, KeyRing((NEW_KEY,))) as uow, pytest.raises(ContentUnreadable):
        uow.reports.document(report_id)


def uow_factory(engine: Engine, keys: KeyRing = TEST_KEYS) -> Callable[[], UnitOfWork]:
    return lambda: UnitOfWork(engine, keys)


def test_retention_erases_exactly_the_reports_past_their_time_in_a_final_state(
    ledger_engine: Engine,
) -> None:
    old, recent = T0, T0 + timedelta(days=29, hours=23)
    erased = {
        report_in(ledger_engine, State.VERIFIED, old, DOCUMENT),
        report_in(ledger_engine, State.RESOLVED_MANUALLY, old, DOCUMENT),
    }
    kept = {report_in(ledger_engine, State.VERIFIED, recent, DOCUMENT)}
    kept |= {
        report_in(ledger_engine, state, old, DOCUMENT)
        for state in (
            State.RECEIVED,
            State.HELD,
            State.ROUTED,
            State.RETRY_SCHEDULED,
            State.DELIVERED,
            State.MISSING,
            State.DEAD_LETTERED,
        )
    }
    factory = uow_factory(ledger_engine)
    now = lambda: T0 + timedelta(days=30)  # noqa: E731

    dry = erase_due(factory, retention_days=30, now=now, delivered=delivered_bytes, dry_run=True)
    assert {e.report_id for e in dry} == erased
    assert not any(e.erased for e in dry)
    assert len(stored_rows(ledger_engine)) == len(erased | kept)

    done = erase_due(factory, retention_days=30, now=now, delivered=delivered_bytes)
    assert {e.report_id for e in done if e.erased} == erased
    assert erase_due(factory, retention_days=30, now=now, delivered=delivered_bytes) == []

    assert {row[0] for row in stored_rows(ledger_engine)} == kept
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        for report_id in erased:
            report = uow.reports.get(report_id)
            history = uow.reports.history(report_id)
            assert report is not None
            assert uow.reports.document(report_id) is None
            assert report.state in (State.VERIFIED, State.RESOLVED_MANUALLY)
            assert report.content_erased_at == now()
            assert report.state_kind == StateKind.CONTENT_ERASED.value
            last = history[-1]
            assert (last.from_state, last.to_state, last.actor) == (
                report.state,
                report.state,
                "retention",
            )
            assert chain_break(report_id, history, report.last_sequence, report.last_hash) is None
            body = body_for(report, DOCUMENT)
            assert last.detail == {
                "delivered_sha256": hashlib.sha256(body).hexdigest(),
                "delivered_size": len(body),
            }
            if report.state is State.VERIFIED:
                assert last.detail["delivered_sha256"] == report.delivery_sha256
        for report_id in kept:
            assert uow.reports.document(report_id) == DOCUMENT


def test_a_person_reads_content_only_with_a_record_of_who_when_and_why(
    ledger_engine: Engine,
) -> None:
    report_id = report_in(ledger_engine, State.VERIFIED, T0, DOCUMENT)
    factory = uow_factory(ledger_engine)
    read = read_content(
        factory, report_id, operator="kari", reason="case 2026/17: complaint", now=lambda: T0
    )
    assert read is not None
    assert read.document == DOCUMENT
    with UnitOfWork(ledger_engine) as uow:
        [access] = uow.contents.accesses(report_id)
    assert (access.operator, access.at, access.reason) == ("kari", T0, "case 2026/17: complaint")
    with pytest.raises(ValueError, match="operator and a reason"):
        read_content(factory, report_id, operator="kari", reason=" ", now=lambda: T0)


@pytest.mark.parametrize(
    "statement",
    ["UPDATE content_accesses SET operator = 'someone else'", "DELETE FROM content_accesses"],
)
def test_the_record_of_reads_is_append_only(ledger_engine: Engine, statement: str) -> None:
    report_id = report_in(ledger_engine, State.VERIFIED, T0, DOCUMENT)
    read_content(
        uow_factory(ledger_engine), report_id, operator="kari", reason="why", now=lambda: T0
    )
    with pytest.raises(DatabaseError, match="append-only"), ledger_engine.begin() as connection:
        connection.execute(text(statement))


def test_rotation_rewraps_every_data_key_and_seals_plain_content_resumably(
    ledger_engine: Engine,
) -> None:
    ids = [report_in(ledger_engine, State.ROUTED, T0, DOCUMENT) for _ in range(7)]
    with ledger_engine.begin() as connection:  # as stored before this encryption existed
        connection.execute(
            schema.report_contents.update()
            .where(schema.report_contents.c.report_id == ids[0])
            .values(document=DOCUMENT, key_id=None, wrapped_key=None)
        )
    ring = KeyRing((NEW_KEY, *TEST_KEYS.keys))
    factory = uow_factory(ledger_engine, ring)
    assert remaining(factory, ring) == 7

    class Interrupted(Exception):
        pass

    def stop_after_two_batches(_: int, calls: list[int] = []) -> None:  # noqa: B006
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        rotate(factory, ring, batch=2, advance=stop_after_two_batches)
    assert remaining(factory, ring) == 3
    assert rotate(factory, ring, batch=2) == 3
    assert remaining(factory, ring) == 0

    assert {row[2] for row in stored_rows(ledger_engine)} == {"test-2"}
    assert all(CANARY.encode() not in row[1] for row in stored_rows(ledger_engine))
    with UnitOfWork(ledger_engine, KeyRing((NEW_KEY,))) as uow:
        assert all(uow.reports.document(report_id) == DOCUMENT for report_id in ids)


def settings_for(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_the_embedded_default_makes_an_owner_only_key_file_once_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    first = bootstrap(settings_for(tmp_path))
    first.close()
    second = bootstrap(settings_for(tmp_path))
    second.close()
    key_file = tmp_path / "content.keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.keys == second.keys
    created = [r for r in caplog.records if "created the content key file" in r.getMessage()]
    assert len(created) == 1
    assert key_file.read_text().split(":", 1)[1].strip() not in caplog.text


def test_a_wrong_or_missing_key_stops_the_start_in_one_line(tmp_path: Path) -> None:
    from ledger.content_crypto import new_key_line

    key = new_key_line("k1")
    with_key = settings_for(tmp_path, content_keys=key)
    container = bootstrap(with_key)
    report_in(container.engine, State.RECEIVED, T0, keys=container.keys or TEST_KEYS)
    container.close()

    problems = {
        "a wrong key with the same id": (new_key_line("k1"), "is not the key of that id"),
        "the key in use missing": (new_key_line("k2"), "lacks key k1"),
        "a malformed key": ("k1:short", "RELAY_CONTENT_KEYS: key 'k1' is"),
    }
    for ring, expected in problems.values():
        with pytest.raises(StartupError, match=expected) as raised:
            bootstrap(settings_for(tmp_path, content_keys=ring))
        assert "\n" not in str(raised.value)
    (tmp_path / "other").mkdir()
    production = settings_for(
        tmp_path / "other", database_url="postgresql+psycopg://relay@127.0.0.1:1/none"
    )
    with pytest.raises(StartupError, match=r"RELAY_CONTENT_KEYS .* is not set"):
        bootstrap(production)
    container = bootstrap(settings_for(tmp_path, content_keys=f"{new_key_line('k2')},{key}"))
    container.close()


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "ring"
    key_file.write_text("k1:" + "A" * 43 + "\n")
    key_file.chmod(0o644)
    with pytest.raises(StartupError, match="readable by others than its owner; chmod 600"):
        bootstrap(settings_for(tmp_path, content_key_file=key_file))


def test_a_report_found_missing_after_its_content_was_erased_is_dead_lettered_loudly(
    ledger_engine: Engine,
) -> None:
    from deliverers.control import DeliveryControl
    from deliverers.proof import mark_missing
    from deliverers.retry import RetryPolicy
    from deliverers.stage import deliver_report
    from tests.support.fakes import FakeCaseSystem

    report_id = report_in(ledger_engine, State.VERIFIED, T0, DOCUMENT)
    factory = uow_factory(ledger_engine)
    later = lambda: T0 + timedelta(days=31)  # noqa: E731
    erase_due(factory, retention_days=30, now=later, delivered=delivered_bytes)
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id, lock=True)
        assert report is not None
        mark_missing(uow, report, actor="reconciler", reason="not in the list", now=later())
        uow.commit()
    case_system = FakeCaseSystem()
    moved = deliver_report(
        factory,
        report_id,
        deliverer_for=lambda _: case_system,
        control_for=lambda _: DeliveryControl(policy=RetryPolicy(base_seconds=1)),
        now=later,
    )
    assert moved is State.DEAD_LETTERED
    assert case_system.attempts == []
    with UnitOfWork(ledger_engine) as uow:
        report = uow.reports.get(report_id)
    assert report is not None
    assert (
        report.state_reason == "its content was erased by retention; it cannot be delivered again"
    )
