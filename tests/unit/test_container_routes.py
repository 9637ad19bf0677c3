"""The container's routes: checked like at start on every reload, and the deliverers follow."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.bootstrap import Container, StartupError, bootstrap
from relay.routes_loader import checked_routes
from relay.settings import Settings
from router.live import LiveRoutes
from tests.support.clock import Clock

ENTRY = (
    "  - {{id: {id}, name: N, serves: [{serves}], vendor: {vendor},"
    " endpoint: '{endpoint}', secret_env: RELAY_SECRET_T}}\n"
)


def routes(*entries: dict[str, str]) -> str:
    defaults = {"vendor": "rest-json", "endpoint": "http://127.0.0.1:9"}
    return "recipients:\n" + "".join(ENTRY.format(**{**defaults, **e}) for e in entries)


@pytest.fixture
def path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RELAY_SECRET_T", "t" * 32)
    file = tmp_path / "routes.yaml"
    file.write_text(routes({"id": "a", "serves": "'4601'"}), "utf-8")
    return file


@pytest.fixture
def container(path: Path, clock: Clock, tmp_path: Path) -> Iterator[Container]:
    settings = Settings(data_dir=tmp_path, routes_file=path)
    build = functools.partial(checked_routes, settings=settings)
    live = LiveRoutes(path, build, check_seconds=60, clock=clock.monotonic)
    container = bootstrap(settings, migrate=False, routes=live, check=False)
    yield container
    container.close()


def rewrite(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text, "utf-8")
    later = stat.st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))


def test_a_recipients_deliverer_is_rebuilt_when_its_entry_changes(
    container: Container, path: Path, clock: Clock
) -> None:
    first = container.deliverer_for("a")
    assert first is not None
    assert container.deliverer_for("a") is first

    rewrite(
        path,
        routes(
            {"id": "a", "serves": "'4601'"},
            {"id": "b", "serves": "'5001'"},
        ),
    )
    clock.advance(60)
    assert container.deliverer_for("a") is first, "an unchanged entry keeps its deliverer"

    rewrite(path, routes({"id": "a", "serves": "'4601'", "endpoint": "http://127.0.0.1:10"}))
    clock.advance(60)
    assert container.deliverer_for("a") is not first


def test_a_recipient_routed_by_a_newer_file_is_found_at_once(
    container: Container, path: Path
) -> None:
    assert container.deliverer_for("b") is None
    rewrite(path, routes({"id": "a", "serves": "'4601'"}, {"id": "b", "serves": "'5001'"}))
    assert container.deliverer_for("b") is not None, "did not look at the file again"


def test_a_new_file_with_an_unknown_vendor_is_refused(
    container: Container, path: Path, clock: Clock
) -> None:
    rewrite(path, routes({"id": "a", "serves": "'4601'", "vendor": "pigeon"}))
    clock.advance(60)
    assert container.routes.recipients["a"].vendor == "rest-json"


def test_a_file_that_cannot_be_used_stops_the_start(path: Path, tmp_path: Path) -> None:
    path.write_text(routes({"id": "a", "serves": "'4601'", "endpoint": "ftp://x"}), "utf-8")
    container = bootstrap(Settings(data_dir=tmp_path, routes_file=path), migrate=False, check=False)
    try:
        with pytest.raises(StartupError, match="endpoint must be an http"):
            container.check_routes()
    finally:
        container.close()
