"""`relay routes reload`: refuses what the processes would refuse, else touches the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.cli import main

ROUTES = (
    "recipients:\n"
    "  - {id: bergen, name: B, serves: ['4601', '1201'], vendor: rest-json,"
    " endpoint: 'http://127.0.0.1:9', secret_env: RELAY_SECRET_B}\n"
)
LONG_AGO = 1_000_000_000


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "routes.yaml"
    file.write_text(ROUTES, "utf-8")
    os.utime(file, (LONG_AGO, LONG_AGO))
    monkeypatch.setenv("RELAY_ROUTES_FILE", str(file))
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RELAY_SECRET_B", "b" * 32)
    return file


def reload(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["routes", "reload", *args])
    return result.exit_code, result.output


def test_a_usable_file_is_touched_and_its_findings_shown(path: Path) -> None:
    status, output = reload()
    assert status == 0, output
    assert "valid, 1 recipient" in output
    assert "1201 is outdated: 1201 is 4601 (Bergen) today" in output
    assert "unserved: 356" in output
    assert path.stat().st_mtime > LONG_AGO


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("1201", "12O1"), "recipients[0] (id=bergen).serves"),
        (("RELAY_SECRET_B", "RELAY_SECRET_NOT_SET"), "environment variable RELAY_SECRET_NOT_SET"),
        (("rest-json", "pigeon"), "unknown vendor 'pigeon'"),
    ],
)
def test_a_file_the_processes_would_refuse_exits_1_untouched(
    path: Path, change: tuple[str, str], problem: str
) -> None:
    path.write_text(ROUTES.replace(*change), "utf-8")
    os.utime(path, (LONG_AGO, LONG_AGO))
    status, output = reload("--json")
    assert status == 1
    assert json.loads(output)["ok"] is False
    assert problem in json.loads(output)["error"]
    assert path.stat().st_mtime == LONG_AGO


FIKS_IO = "  - {id: finnmark, name: F, serves: ['5601'], vendor: fiks-io, endpoint: '%s'}\n"


def test_fiks_io_recipients_are_checked_without_a_broker(path: Path) -> None:
    path.write_text(ROUTES + FIKS_IO % "fiksio://konto-finnmark", "utf-8")
    status, output = reload()
    assert status == 0, output
    assert "valid, 2 recipients" in output

    path.write_text(ROUTES + FIKS_IO % "http://127.0.0.1:9", "utf-8")
    status, output = reload()
    assert status == 1
    assert "recipient finnmark: a fiks-io endpoint looks like fiksio://" in output
