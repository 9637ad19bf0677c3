"""A changed routes file is used without restart; one that cannot be used is refused."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ledger.digest import sha256_hex
from router.live import LiveRoutes
from router.routes import RoutesFileError, RouteTable, routes_from_bytes
from tests.support.clock import T0, Clock

ENV = {"SECRET": "s" * 32}


def routes(*serves: str, recipient: str = "bergen") -> str:
    listed = ", ".join(f"'{number}'" for number in serves)
    return (
        "recipients:\n"
        f"  - {{id: {recipient}, name: B, serves: [{listed}], vendor: rest-json,"
        " endpoint: 'http://127.0.0.1:9', secret_env: SECRET}\n"
    )


class Builds:
    """The loader, counting how often it builds a table."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, path: Path, content: bytes) -> RouteTable:
        self.count += 1
        return routes_from_bytes(path, content, ENV)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    file = tmp_path / "routes.yaml"
    file.write_text(routes("4601"), "utf-8")
    return file


def write(path: Path, text: str) -> None:
    """Write and make sure the file's stamp changes even on a coarse clock."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, "utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_a_changed_file_is_used_after_the_next_look(path: Path, clock: Clock) -> None:
    builds = Builds()
    live = LiveRoutes(path, builds, check_seconds=1, clock=clock.monotonic)
    write(path, routes("4601", "5001"))
    assert "5001" not in live.current().by_served, "looked before its time"
    clock.advance(1)
    assert live.current().by_served["5001"] == "bergen"
    assert builds.count == 2


def test_force_looks_at_once(path: Path, clock: Clock) -> None:
    live = LiveRoutes(path, Builds(), check_seconds=60, clock=clock.monotonic)
    write(path, routes("5001"))
    assert "5001" in live.current(force=True).by_served


def test_an_invalid_file_is_refused_and_the_table_in_force_stays(
    path: Path, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    live = LiveRoutes(path, Builds(), check_seconds=1, clock=clock.monotonic)
    sha256 = live.sha256
    write(path, routes("46O1"))
    clock.advance(1)
    with caplog.at_level(logging.ERROR, logger="router.live"):
        table = live.current()
    assert table.by_served == {"4601": "bergen"}
    assert live.sha256 == sha256
    [record] = caplog.records
    assert "routes file refused" in record.getMessage()
    assert "recipients[0] (id=bergen).serves" in record.getMessage()

    caplog.clear()
    clock.advance(1)
    with caplog.at_level(logging.ERROR, logger="router.live"):
        live.current()
    assert not caplog.records, "the same refused file is logged once"

    write(path, routes("4601", "5001"))
    clock.advance(1)
    assert live.current().by_served["5001"] == "bergen"


def test_a_missing_secret_refuses_the_new_file(path: Path, clock: Clock) -> None:
    live = LiveRoutes(path, Builds(), check_seconds=1, clock=clock.monotonic)
    write(path, routes("4601").replace("SECRET", "OTHER_SECRET"))
    clock.advance(1)
    assert live.current().recipients["bergen"].secret == ENV["SECRET"]


def test_a_touched_file_with_the_same_content_is_not_rebuilt(path: Path, clock: Clock) -> None:
    builds = Builds()
    live = LiveRoutes(path, builds, check_seconds=1, clock=clock.monotonic)
    write(path, path.read_text("utf-8"))
    clock.advance(1)
    live.current()
    assert builds.count == 1


def test_a_vanished_file_keeps_the_table_in_force(
    path: Path, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    live = LiveRoutes(path, Builds(), check_seconds=1, clock=clock.monotonic)
    path.unlink()
    clock.advance(1)
    with caplog.at_level(logging.ERROR, logger="router.live"):
        assert live.current().by_served == {"4601": "bergen"}
    assert "cannot be read" in caplog.text
    write(path, routes("5001"))
    clock.advance(1)
    assert live.current().by_served == {"5001": "bergen"}


def test_a_file_that_cannot_be_used_at_start_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RoutesFileError, match="cannot read"):
        LiveRoutes(tmp_path / "nope.yaml", Builds())
    bad = tmp_path / "bad.yaml"
    bad.write_text(routes("4601").replace("rest-json", "rest-json, colour: blue"), "utf-8")
    with pytest.raises(RoutesFileError, match=r"recipients\[0\] \(id=bergen\)\.colour"):
        LiveRoutes(bad, Builds())


def test_the_table_in_force_is_named_by_its_files_sha256_and_since_when(
    path: Path, clock: Clock
) -> None:
    live = LiveRoutes(path, Builds(), check_seconds=1, clock=clock.monotonic, wall=clock)
    first = live.in_force()
    assert (first.sha256, first.loaded_at) == (sha256_hex(path.read_bytes()), T0)
    assert live.current().sha256 == first.sha256, "the table carries its file's sha256"

    clock.advance(5)
    write(path, routes("4601", "5001"))
    now = live.in_force()  # looks at the file first, as routing does
    assert (now.sha256, now.loaded_at) == (sha256_hex(path.read_bytes()), clock())
    assert live.current().sha256 == now.sha256

    clock.advance(5)
    write(path, routes("46O1"))  # refused: the table in force, and its time, stay
    assert live.in_force() == now
