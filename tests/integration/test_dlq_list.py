"""`relay dlq list --reason KIND`: every dead-letter kind can be asked for, and is explained."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from deliverers.outcomes import dead_letter, record
from ledger.database import create_ledger_engine
from ledger.migrate import upgrade
from ledger.records import DeadLetterKind, NewReport
from ledger.topology import ROUTE
from ledger.uow import UnitOfWork
from relay.cli import main
from tests.support.ledger import TEST_KEYS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
README = Path(__file__).resolve().parents[2] / "README.md"


def dead_lettered(engine_url: str, kind: DeadLetterKind) -> str:
    engine = create_ledger_engine(engine_url)
    upgrade(engine)
    report_id = str(uuid.uuid4())
    with UnitOfWork(engine, TEST_KEYS) as uow:
        new = NewReport(
            report_id, "portal", "no.ks.fiks.bekymringsmelding.privat.v2", "4601", None, T0
        )
        report = uow.reports.add(new, b"{}", actor="intake:portal", dispatch=ROUTE)
        record(uow, report, dead_letter(f"why: {kind.value}", kind), at=T0, actor="test")
        uow.commit()
    engine.dispose()
    return report_id


@pytest.mark.parametrize("kind", list(DeadLetterKind))
def test_dlq_list_filters_by_each_kind(
    kind: DeadLetterKind, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RELAY_DATABASE_URL", url)
    ids = {each: dead_lettered(url, each) for each in DeadLetterKind}

    result = CliRunner().invoke(main, ["dlq", "list", "--reason", kind.value, "--json"])

    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(view["id"], view["kind"]) for view in listed] == [(ids[kind], kind.value)]


def test_an_unknown_kind_is_refused_in_one_line() -> None:
    result = CliRunner().invoke(main, ["dlq", "list", "--reason", "lost"])
    assert result.exit_code == 2
    assert "'lost' is not one of" in result.output


def test_every_kind_is_explained_in_the_help_and_the_readme() -> None:
    help_text = CliRunner().invoke(main, ["dlq", "list", "--help"], terminal_width=200).output
    readme = README.read_text("utf-8")
    for kind in DeadLetterKind:
        assert f"{kind.value} (" in " ".join(help_text.split()), kind
        assert f"`{kind.value}` (" in readme, kind
