"""Someone with the database's keys edits the ledger behind the pipeline's back (the
append-only triggers disabled by a superuser on PostgreSQL, dropped on SQLite). `relay ledger
verify` names the report and sequence of each edit; a chain rewritten consistently from its
first link, head included, passes its own check and is found by `--checkpoint`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import ColumnElement, Connection, Engine, event, text

from ledger import schema
from ledger.chain import transition_hash
from ledger.checkpoint import new_signing_key_text
from ledger.lifecycle import State
from ledger.records import Transition
from ledger.uow import UnitOfWork
from ledger.verification import ChainWatch
from relay.cli import main
from tests.support.ledger import report_in

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@contextmanager
def triggers_off(engine: Engine) -> Iterator[Connection]:
    """A connection that may rewrite history, as a database administrator could."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE transitions DISABLE TRIGGER USER"))
        else:
            for trigger in ("update", "delete"):
                connection.execute(
                    text(f"DROP TRIGGER IF EXISTS transitions_append_only_{trigger}")
                )
        yield connection
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE transitions ENABLE TRIGGER USER"))


def history(engine: Engine, report_id: str) -> list[Transition]:
    with UnitOfWork(engine) as uow:
        return uow.reports.history(report_id)


def where(report_id: str, sequence: int) -> ColumnElement[bool]:
    columns = schema.transitions.c
    return (columns.report_id == report_id) & (columns.sequence == sequence)


def edit_reason(engine: Engine, report_id: str) -> int:
    with triggers_off(engine) as connection:
        connection.execute(
            schema.transitions.update().where(where(report_id, 2)).values(reason="nothing to see")
        )
    return 2


def delete_middle(engine: Engine, report_id: str) -> int:
    with triggers_off(engine) as connection:
        connection.execute(schema.transitions.delete().where(where(report_id, 3)))
    return 3


def delete_last(engine: Engine, report_id: str) -> int:
    last = history(engine, report_id)[-1].sequence
    with triggers_off(engine) as connection:
        connection.execute(schema.transitions.delete().where(where(report_id, last)))
    return last


def rewrite(engine: Engine, report_id: str, *, head_too: bool) -> int:
    """Edit link 2's reason and recompute every hash after it, so each link fits the next."""
    links = history(engine, report_id)
    previous = links[0].hash
    with triggers_off(engine) as connection:
        for link in links[1:]:
            changed = replace(link, previous_hash=previous, hash="")
            if link.sequence == 2:
                changed = replace(changed, actor="operator:nobody", reason="rewritten")
            changed = replace(changed, hash=transition_hash(changed))
            connection.execute(
                schema.transitions.update()
                .where(where(report_id, link.sequence))
                .values(
                    actor=changed.actor,
                    reason=changed.reason,
                    previous_hash=changed.previous_hash,
                    hash=changed.hash,
                )
            )
            previous = changed.hash
        if head_too:
            connection.execute(
                schema.reports.update()
                .where(schema.reports.c.id == report_id)
                .values(last_hash=previous)
            )
    return links[-1].sequence


TAMPERING: dict[str, Callable[[Engine, str], int]] = {
    "an edited reason": edit_reason,
    "a deleted transition": delete_middle,
    "the last transition deleted": delete_last,
    "a rewritten chain": lambda engine, report_id: rewrite(engine, report_id, head_too=False),
}


@pytest.fixture
def relay_env(ledger_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RELAY_DATABASE_URL", ledger_engine.url.render_as_string(False))
    monkeypatch.setenv("RELAY_CHECKPOINT_SIGNING_KEY", new_signing_key_text())
    monkeypatch.delenv("RELAY_CONTENT_KEYS", raising=False)
    return tmp_path


def relay(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def ledger_with_reports(engine: Engine) -> list[str]:
    states = (State.VERIFIED, State.RESOLVED_MANUALLY, State.HELD, State.VERIFIED)
    return [report_in(engine, state, T0) for state in states]


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_ledger_verify_names_the_report_and_sequence_of_each_edit(
    ledger_engine: Engine, relay_env: Path, tampering: str
) -> None:
    ids = ledger_with_reports(ledger_engine)
    clean = relay("ledger", "verify")
    assert clean.exit_code == 0, clean.output
    assert "4 reports checked, 0 broken chains" in clean.output

    victim = ids[0]
    sequence = TAMPERING[tampering](ledger_engine, victim)

    found = relay("ledger", "verify")
    assert found.exit_code == 1, found.output
    assert f"BROKEN report {victim} at sequence {sequence}:" in found.output
    assert found.output.count("BROKEN") == 1
    as_json = json.loads(relay("ledger", "verify", "--json").output)
    assert [(b["report_id"], b["sequence"]) for b in as_json["breaks"]] == [(victim, sequence)]


def test_a_chain_rewritten_consistently_is_found_by_an_earlier_checkpoint(
    ledger_engine: Engine, relay_env: Path
) -> None:
    ids = ledger_with_reports(ledger_engine)
    made = relay("ledger", "checkpoint", "--settle", "0")
    assert made.exit_code == 0, made.output
    checkpoints = relay_env / "checkpoints.jsonl"
    assert relay("ledger", "verify", "--checkpoint", str(checkpoints)).exit_code == 0

    rewrite(ledger_engine, ids[1], head_too=True)

    alone = relay("ledger", "verify")
    assert alone.exit_code == 0, "a consistent rewrite passes the chains' own check"
    found = relay("ledger", "verify", "--checkpoint", str(checkpoints))
    assert found.exit_code == 1, found.output
    assert "FAILED checkpoint 1" in found.output
    assert "history rewritten" in found.output


def test_a_checkpoint_file_edited_to_fit_the_rewrite_fails_its_signature(
    ledger_engine: Engine, relay_env: Path
) -> None:
    ledger_with_reports(ledger_engine)
    assert relay("ledger", "checkpoint", "--settle", "0").exit_code == 0
    checkpoints = relay_env / "checkpoints.jsonl"
    forged = json.loads(checkpoints.read_text())
    forged["root"] = "00" * 32
    checkpoints.write_text(json.dumps(forged) + "\n")
    found = relay("ledger", "verify", "--checkpoint", str(checkpoints))
    assert found.exit_code == 1
    assert "its signature does not hold" in found.output


def test_new_transitions_after_a_checkpoint_do_not_disturb_it(
    ledger_engine: Engine, relay_env: Path
) -> None:
    ledger_with_reports(ledger_engine)
    assert relay("ledger", "checkpoint", "--settle", "0").exit_code == 0
    report_in(ledger_engine, State.VERIFIED, datetime.now(UTC).replace(year=2100))
    checked = relay("ledger", "verify", "--checkpoint", str(relay_env / "checkpoints.jsonl"))
    assert checked.exit_code == 0, checked.output


def test_the_periodic_chain_watch_raises_one_alert_for_an_edit_within_a_round(
    ledger_engine: Engine,
) -> None:
    ids = ledger_with_reports(ledger_engine)
    factory = lambda: UnitOfWork(ledger_engine)  # noqa: E731
    watch = ChainWatch(factory, lambda: T0, sweep=3)
    assert watch() == 0
    edit_reason(ledger_engine, ids[2])
    found = sum(watch() for _ in range(3))  # a full round over 4 reports, 3 at a time
    assert found >= 1
    with UnitOfWork(ledger_engine) as uow:
        alerts = [a for i in ids for a in uow.alerts.for_report(i)]
    assert [(a.report_id, a.kind) for a in alerts] == [(ids[2], "chain-broken")]
    assert alerts[0].reason == "sequence 2: its fields do not match its hash (edited)"


def test_the_chain_watch_reads_a_report_it_found_intact_again_only_once_it_changes(
    ledger_engine: Engine,
) -> None:
    """Within its overlap (reports changed in the last five minutes) a run re-read and
    re-hashed every chain the run before had found intact: a backlog's reports, every
    minute. Now only the round (`sweep`) reads an unchanged one again."""
    ids = ledger_with_reports(ledger_engine)  # all changed at T0, within every run's overlap
    watch = ChainWatch(lambda: UnitOfWork(ledger_engine), lambda: T0, sweep=1)
    read: list[str] = []

    def links_read(
        connection: Any, cursor: Any, statement: str, parameters: Any, *args: Any
    ) -> None:
        if "FROM transitions" in statement:
            values = parameters.values() if isinstance(parameters, dict) else parameters
            read.extend(value for value in values if isinstance(value, str))

    event.listen(ledger_engine, "before_cursor_execute", links_read)
    try:
        assert watch() == 0
        assert set(ids) <= set(read)
        read.clear()
        assert watch() == 0
        assert len(read) == 1  # the round's slice of one, nothing of the overlap again
        read.clear()
        new = report_in(ledger_engine, State.VERIFIED, T0)
        assert watch() == 0
        assert new in read
        assert len(read) == 2  # the changed one, and the round's next
    finally:
        event.remove(ledger_engine, "before_cursor_execute", links_read)
