"""The operators' commands on real ledgers: a held report sent to a chosen recipient (the
request recorded, the routing left to a worker), resolved by hand; ids by unique prefix;
bulk actions that show first (--dry-run) and ask (--yes); tables that never cut an id."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from ledger.lifecycle import State
from ledger.records import DeadLetterKind
from ledger.uow import UnitOfWork
from relay.cli import main
from router.routes import RouteTable, load_routes
from router.stage import route_report
from tests.integration.test_held import as_a_worker, held, received
from tests.support.clock import Clock
from tests.support.ledger import TEST_KEYS

pytestmark = pytest.mark.integration

ROUTES = "".join(
    f"  - {{id: {recipient}, name: N, serves: ['{number}'], vendor: rest-json,"
    f" endpoint: 'http://127.0.0.1:9', secret_env: RELAY_SECRET_WORKERS}}\n"
    for recipient, number in (("bergen", "4601"), ("alesund", "1508"), ("haram", "1580"))
)

Relay = Callable[..., Result]


@pytest.fixture
def workers_table(tmp_path: Path) -> RouteTable:
    """The routes as the workers have them: their secret is in their environment only."""
    path = tmp_path / "routes.yaml"
    path.write_text("recipients:\n" + ROUTES, "utf-8")
    return load_routes(path, {"RELAY_SECRET_WORKERS": "w" * 32})


@pytest.fixture
def relay(
    ledger_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers_table: object
) -> Relay:
    """`relay …` in an operator's shell: the workers' secret is not set here."""
    monkeypatch.setenv("RELAY_DATABASE_URL", ledger_engine.url.render_as_string(False))
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RELAY_ROUTES_FILE", str(tmp_path / "routes.yaml"))
    monkeypatch.delenv("RELAY_SECRET_WORKERS", raising=False)
    monkeypatch.delenv("RELAY_CONTENT_KEYS", raising=False)

    def run(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=stdin)

    return run


def history(engine: Engine, report_id: str) -> list[tuple[State, str, str | None]]:
    with UnitOfWork(engine, TEST_KEYS) as uow:
        return [(t.to_state, t.actor, t.reason) for t in uow.reports.history(report_id)]


def test_a_split_report_goes_to_the_recipient_the_operator_chose(
    relay: Relay, ledger_engine: Engine, workers_table: RouteTable, clock: Clock
) -> None:
    report_id = held(ledger_engine, workers_table, clock, "1507")
    why = "Haram confirmed by phone that the child lives there"
    asked = relay(
        "held", "reroute", report_id[:8], "--recipient", "haram", "--reason", why,
        "--operator", "kari", "--wait", "0",
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output
    assert "requested; no worker has acted on it yet" in asked.stdout
    assert history(ledger_engine, report_id)[-1] == (State.HELD, "operator:kari", why)

    assert as_a_worker(ledger_engine, workers_table, clock, report_id) is State.ROUTED
    with UnitOfWork(ledger_engine, TEST_KEYS) as uow:
        report = uow.reports.get(report_id)
    assert report is not None
    assert (report.recipient, report.kommunenummer) == ("haram", "1580")
    assert history(ledger_engine, report_id)[-1] == (
        State.ROUTED,
        "router",
        f"as operator:kari asked: {why}",
    )


def test_a_choice_the_routes_file_does_not_allow_is_refused_before_anything_is_recorded(
    relay: Relay, ledger_engine: Engine, workers_table: RouteTable, clock: Clock
) -> None:
    report_id = held(ledger_engine, workers_table, clock, "1507")
    before = history(ledger_engine, report_id)
    for args, problem in (
        (("--recipient", "bergen"), "bergen serves none of 1508 and 1580"),
        (("--recipient", "molde"), "no recipient molde in the routes table"),
    ):
        refused = relay("held", "reroute", report_id, *args, "--reason", "x", "--wait", "0")
        assert refused.exit_code == 1
        assert refused.stderr.startswith(f"relay: {report_id}: {problem}")
        assert len(refused.stderr.strip().splitlines()) == 1
    assert relay("held", "reroute", report_id, "--recipient", "haram").exit_code == 2  # no reason
    assert history(ledger_engine, report_id) == before

    forced = relay(
        "held", "reroute", report_id, "--recipient", "bergen", "--force",
        "--reason", "the family moved to Bergen", "--wait", "0",
    )  # fmt: skip
    assert forced.exit_code == 0, forced.output
    assert as_a_worker(ledger_engine, workers_table, clock, report_id) is State.ROUTED


def test_ids_are_taken_by_a_unique_prefix_and_refused_in_one_line_otherwise(
    relay: Relay, ledger_engine: Engine, workers_table: RouteTable, clock: Clock
) -> None:
    report_id = held(ledger_engine, workers_table, clock, "1507")
    shown = relay("status", report_id[:8], "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == report_id
    for given, problem in (
        (report_id[:7], "is too short: give at least 8 characters"),
        ("ffffffff-no", "no report id begins with ffffffff-no"),
    ):
        for command in (
            ["status", given],
            ["dlq", "show", given],
            ["held", "resolve", given, "--reason", "x"],
            ["held", "reroute", given, "--reason", "x"],
            ["report", "accesses", given],
        ):
            refused = relay(*command)
            assert refused.exit_code == 1, command
            assert problem in refused.stderr, command
            assert len(refused.stderr.strip().splitlines()) == 1, command


def test_a_held_report_is_resolved_by_hand_with_who_and_why(
    relay: Relay, ledger_engine: Engine, workers_table: RouteTable, clock: Clock
) -> None:
    report_id = held(ledger_engine, workers_table, clock, "2100")  # Svalbard
    done = relay(
        "held", "resolve", report_id[:10], "--reason", "sent to Longyearbyen by post",
        "--operator", "kari",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert history(ledger_engine, report_id)[-1] == (
        State.RESOLVED_MANUALLY,
        "operator:kari",
        "sent to Longyearbyen by post",
    )
    again = relay("held", "resolve", report_id, "--reason", "twice")
    assert again.exit_code == 1
    assert "is RESOLVED_MANUALLY, not HELD" in again.stderr
    not_a_dead_letter = relay("dlq", "resolve", report_id, "--reason", "x")
    assert not_a_dead_letter.exit_code == 1


def test_a_dry_run_of_a_reroute_records_nothing_and_says_what_the_file_would_do(
    relay: Relay, ledger_engine: Engine, workers_table: RouteTable, clock: Clock
) -> None:
    split = held(ledger_engine, workers_table, clock, "1507")
    before = history(ledger_engine, split)
    shown = relay("held", "reroute", "--all", "--dry-run")
    assert shown.exit_code == 0, shown.output
    assert f"{split} (HELD) stays HELD: kommunenummer 1507 was split" in shown.stdout
    chosen = relay("held", "reroute", split, "--recipient", "alesund", "--reason", "x", "--dry-run")
    assert f"{split} (HELD) -> alesund" in chosen.stdout
    assert history(ledger_engine, split) == before


def dead_letters(engine: Engine, table: RouteTable, clock: Clock, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        report_id = received(engine, "1201")
        assert route_report(UnitOfWork(engine, TEST_KEYS), table, report_id, clock) is (
            State.ROUTED
        )
        with UnitOfWork(engine, TEST_KEYS) as uow:
            report = uow.reports.get(report_id, lock=True)
            assert report is not None
            uow.reports.move(
                report,
                State.DEAD_LETTERED,
                at=clock(),
                actor="deliverer",
                reason="rejected: 422",
                kind=DeadLetterKind.REJECTED,
            )
            uow.commit()
        ids.append(report_id)
    return ids


def test_a_bulk_redrive_shows_what_it_would_do_and_asks_first(
    relay: Relay,
    ledger_engine: Engine,
    workers_table: RouteTable,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = dead_letters(ledger_engine, workers_table, clock, 3)
    monkeypatch.setenv("RELAY_SECRET_WORKERS", "w" * 32)  # redrive routes with this table

    dry = relay("dlq", "redrive", "--all", "--reason", "case system fixed", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "3 dead letters would be sent again" in dry.stdout
    assert "by recipient: bergen 3" in dry.stdout
    assert "by kind: rejected 3" in dry.stdout
    declined = relay("dlq", "redrive", "--recipient", "bergen", "--reason", "fixed", stdin="n\n")
    assert declined.exit_code == 1
    assert "Send these 3 reports again?" in declined.stderr
    assert {state for state, _, _ in (history(ledger_engine, i)[-1] for i in ids)} == {
        State.DEAD_LETTERED
    }

    agreed = relay(
        "dlq", "redrive", "--recipient", "bergen", "--reason", "fixed", "--operator", "kari",
        stdin="y\n",
    )  # fmt: skip
    assert agreed.exit_code == 0, agreed.output
    assert "3 redriven, 0 unchanged" in agreed.stdout
    assert {history(ledger_engine, i)[-1][:2] for i in ids} == {(State.ROUTED, "operator:kari")}


@pytest.mark.parametrize("columns", ["200", "100", "50"])
def test_no_table_cuts_a_report_id_or_a_recipient(
    relay: Relay,
    ledger_engine: Engine,
    workers_table: RouteTable,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    columns: str,
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    ids = dead_letters(ledger_engine, workers_table, clock, 2)
    listed = relay("dlq", "list")
    assert listed.exit_code == 0, listed.output
    assert "…" not in listed.stdout
    cells = "".join(
        line.split("│")[1].strip() if "│" in line else "\n" for line in listed.stdout.splitlines()
    )
    for report_id in ids:
        assert report_id in cells, f"{report_id} cut at {columns} columns:\n{listed.stdout}"
        if int(columns) >= 100:
            assert report_id in listed.stdout, "folded though there was room"
