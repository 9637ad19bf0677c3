"""The intake benchmark's limit replays what intake really does: the statements captured on
the real intake path write whole reports again when replayed, on both ledgers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from benchmarks.intake_capture import capture_intake
from benchmarks.intake_ratio import TOKEN, pgbench, relay_env
from benchmarks.load import raw_sqlite_commits
from benchmarks.replay import pgbench_script
from ledger.database import create_ledger_engine
from ledger.migrate import upgrade


def count_reports(url: str) -> int:
    engine = create_ledger_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM reports")).scalar_one())
    finally:
        engine.dispose()


def migrated(url: str) -> str:
    engine = create_ledger_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def test_sqlite_capture_replays_as_whole_reports(tmp_path: Path) -> None:
    url = migrated(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    captured = capture_intake(relay_env(tmp_path, url), TOKEN)

    assert captured.steps[0] == ("BEGIN IMMEDIATE", ())
    assert captured.steps[-1] == "COMMIT"
    report_id = captured.varying[0]
    parameters = [step[1] for step in captured.steps if isinstance(step, tuple)]
    values = [list(each.values()) if isinstance(each, dict) else list(each) for each in parameters]
    assert any(report_id in each for each in values)
    assert count_reports(url) == 1

    rate = raw_sqlite_commits(url, captured, clients=2, seconds=0.5)

    assert rate > 0
    assert count_reports(url) > 1


def test_postgres_capture_replays_under_pgbench(tmp_path: Path, postgres_url: str) -> None:
    url = migrated(postgres_url)
    captured = capture_intake(relay_env(tmp_path, url), TOKEN)

    assert "BEGIN" in captured.steps
    assert captured.steps[-1] == "COMMIT"
    assert count_reports(url) == 1

    pgbench(url, pgbench_script(captured.steps, captured.varying), clients=2, seconds=1)

    assert count_reports(url) > 1
