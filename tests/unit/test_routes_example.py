"""The routes file example in docs/ (YAML and TOML) is one the relay accepts: loaded with
the loader every process uses, every recipient's deliverer builds, every number it serves
exists today, and it routes as its comments say."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.routes_loader import usable_routes
from relay.settings import Settings
from router.check import served_findings
from router.registry import default_registry
from router.resolve import Held, Routed, resolve
from router.routes import RoutesFileError, RouteTable, parse_routes

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
FILES = [EXAMPLES / "routes.yaml", EXAMPLES / "routes.toml"]


def env_names(path: Path) -> set[str]:
    """Every environment variable the file names (secrets and tokens)."""
    names = set()
    for entry in parse_routes(path, path.read_bytes()).recipients:
        names |= {n for n in (entry.secret_env, entry.previous_secret_env, entry.token_env) if n}
    return names


def load(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RouteTable:
    for name in env_names(path):
        monkeypatch.setenv(name, f"value-of-{name}-" + "x" * 32)
    return usable_routes(path, path.read_bytes(), Settings(data_dir=tmp_path))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_example_is_a_usable_routes_file(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = load(path, tmp_path, monkeypatch)

    assert served_findings(list(table.recipients.values()), default_registry()) == []
    assert {r.vendor for r in table.recipients.values()} == {"rest-json", "fiks-io"}
    rotating = table.recipients["bergen-bergenhus"]
    assert rotating.signing_secrets == (
        "value-of-RELAY_SECRET_BERGEN_2026-" + "x" * 32,
        "value-of-RELAY_SECRET_BERGEN_2025-" + "x" * 32,
    )
    assert rotating.token is not None
    assert table.recipients["hallingdal"].delivery.max_concurrent == 2
    assert table.recipients["midt-finnmark"].delivery.receipt_deadline_seconds == 1800


@pytest.mark.parametrize(
    ("kommunenummer", "bydelsnummer", "recipient"),
    [
        ("4601", "02", "bergen-bergenhus"),  # a route for "K-B" wins over one for "K"
        ("4601", "05", "bergen"),
        ("1201", "07", "bergen-bergenhus"),  # Bergen's number before 2020
        ("0301", "01", "oslo"),
        ("3324", None, "hallingdal"),  # one recipient serves several municipalities
        ("5636", None, "midt-finnmark"),
    ],
)
def test_the_example_routes_as_its_comments_say(
    kommunenummer: str,
    bydelsnummer: str | None,
    recipient: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = load(FILES[0], tmp_path, monkeypatch)
    decision = resolve(kommunenummer, bydelsnummer, default_registry(), table)
    assert isinstance(decision, Routed)
    assert decision.recipient == recipient


def test_a_municipality_the_example_does_not_serve_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = load(FILES[0], tmp_path, monkeypatch)
    assert isinstance(resolve("5001", None, default_registry(), table), Held)


def test_the_yaml_and_the_toml_example_are_the_same_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_table, toml_table = (load(path, tmp_path, monkeypatch) for path in FILES)
    assert yaml_table == toml_table


def test_without_its_secrets_the_example_is_refused_naming_them(tmp_path: Path) -> None:
    path = FILES[0]
    with pytest.MonkeyPatch.context() as patch:
        for name in env_names(path):
            patch.delenv(name, raising=False)
        with pytest.raises(RoutesFileError) as refused:
            usable_routes(path, path.read_bytes(), Settings(data_dir=tmp_path))
    assert "RELAY_SECRET_OSLO is not set" in str(refused.value)
