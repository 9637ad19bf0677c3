"""`relay routes check --file` refuses exactly the files a running process refuses: each bad
file below is refused by the check and by the loader `relay run`/`relay worker` start with
and reload with, for the same reason; `--no-secrets` skips only whether secrets are there."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.bootstrap import StartupError, live_routes, load_settings
from relay.cli import main
from router.live import LiveRoutes

BERGEN = (
    "  - {id: bergen, name: B, serves: ['4601'], vendor: rest-json,"
    " endpoint: 'http://127.0.0.1:9', secret_env: RELAY_SECRET_B}\n"
)
FINNMARK = (
    "  - {id: finnmark, name: F, serves: ['5601'], vendor: fiks-io,"
    " endpoint: 'fiksio://konto-finnmark'}\n"
)
GOOD = "recipients:\n" + BERGEN + FINNMARK


def with_bergen(**fields: str) -> str:
    """The good file with Bergen's entry given other fields (an empty value drops one)."""
    entry = {
        "id": "bergen",
        "name": "B",
        "serves": "['4601']",
        "vendor": "rest-json",
        "endpoint": "'http://127.0.0.1:9'",
        "secret_env": "RELAY_SECRET_B",
    }
    entry.update(fields)
    body = ", ".join(f"{key}: {value}" for key, value in entry.items() if value)
    return "recipients:\n  - {" + body + "}\n" + FINNMARK


# (what is wrong, the file, a part of the reason both give, a secret that is missing?)
BAD_FILES = [
    ("not YAML", "recipients: [\n", "not valid yaml", False),
    ("an unknown field", with_bergen(colour="blue"), "recipients[0] (id=bergen).colour", False),
    ("a malformed number", with_bergen(serves="['46O1']"), "(id=bergen).serves", False),
    ("an id twice", GOOD + BERGEN.replace("4601", "4602"), "the id is used by an earlier", False),
    ("a number twice", GOOD + BERGEN.replace("bergen", "b2"), "4601 is already served", False),
    ("an unknown vendor", with_bergen(vendor="pigeon"), "unknown vendor 'pigeon'", False),
    (
        "an endpoint its vendor cannot use",
        with_bergen(endpoint="'ftp://x'"),
        "endpoint must be an http(s) URL",
        False,
    ),
    (
        "a fiks-io endpoint that is no konto",
        GOOD.replace("fiksio://konto-finnmark", "http://127.0.0.1:9"),
        "a fiks-io endpoint looks like fiksio://",
        False,
    ),
    ("no signing secret named", with_bergen(secret_env=""), "needs secret_env or secret_", False),
    (
        "a secret from two places",
        with_bergen(secret_file="b.secret"),
        "give secret_env or secret_file, not both",
        False,
    ),
    (
        "a secret variable that is not set",
        with_bergen(secret_env="RELAY_SECRET_NOT_SET"),
        "environment variable RELAY_SECRET_NOT_SET is not set",
        True,
    ),
    (
        "a token variable that is not set",
        with_bergen(token_env="RELAY_TOKEN_NOT_SET"),
        "token_env: environment variable RELAY_TOKEN_NOT_SET",
        True,
    ),
    (
        "a secret file that is not there",
        with_bergen(secret_env="", secret_file="missing.secret"),
        "secret_file: cannot read",
        True,
    ),
    (
        "an empty secret file",
        with_bergen(secret_env="", secret_file="empty.secret"),
        "empty.secret is empty",
        True,
    ),
]


@pytest.fixture
def routes_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "routes.yaml"
    monkeypatch.setenv("RELAY_ROUTES_FILE", str(path))
    monkeypatch.setenv("RELAY_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RELAY_SECRET_B", "b" * 32)
    (tmp_path / "empty.secret").write_text("\n", "utf-8")
    return path


def check(path: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(main, ["routes", "check", "--file", str(path), "--json", *args])
    return result.exit_code, json.loads(result.output)


@pytest.mark.parametrize(("wrong", "text", "reason", "secret"), BAD_FILES)
def test_the_check_refuses_what_a_starting_process_refuses(
    routes_file: Path, wrong: str, text: str, reason: str, secret: bool
) -> None:
    routes_file.write_text(text, "utf-8")
    status, checked = check(routes_file)
    assert status == 1, wrong
    assert checked["ok"] is False
    assert reason in str(checked["error"]), wrong
    with pytest.raises(StartupError) as refused:
        live_routes(load_settings())
    assert reason in str(refused.value), wrong

    status, checked = check(routes_file, "--no-secrets")
    assert ("error" not in checked) is secret, wrong  # only a missing secret is skipped


@pytest.mark.parametrize(("wrong", "text", "reason", "secret"), BAD_FILES)
def test_the_check_refuses_what_a_running_process_refuses_to_reload(
    routes_file: Path,
    caplog: pytest.LogCaptureFixture,
    wrong: str,
    text: str,
    reason: str,
    secret: bool,
) -> None:
    routes_file.write_text(GOOD, "utf-8")
    running: LiveRoutes = live_routes(load_settings())
    routes_file.write_text(text, "utf-8")
    with caplog.at_level(logging.ERROR):
        table = running.current(force=True)
    assert set(table.recipients) == {"bergen", "finnmark"}, "the table in force stays"
    assert reason in caplog.text, wrong
    status, checked = check(routes_file)
    assert (status, checked["ok"]) == (1, False)
    assert reason in str(checked["error"])


def test_a_file_a_process_takes_is_not_refused_and_its_gaps_are_listed(routes_file: Path) -> None:
    routes_file.write_text(GOOD, "utf-8")
    status, checked = check(routes_file)
    assert "error" not in checked
    assert status == 1  # 355 municipalities have no recipient: findings, not a refusal
    assert checked["recipients"] == 2
    assert checked["secrets_checked"] is True
    assert live_routes(load_settings()).sha256 == checked["sha256"]


def test_a_secret_file_is_read_relative_to_the_routes_file_when_the_table_loads(
    routes_file: Path,
) -> None:
    (routes_file.parent / "bergen.secret").write_text("s" * 32 + "\n", "utf-8")
    routes_file.write_text(with_bergen(secret_env="", secret_file="bergen.secret"), "utf-8")
    running = live_routes(load_settings())
    assert running.current().recipients["bergen"].secret == "s" * 32

    # A recipient added with a secret file of its own is used without a restart.
    (routes_file.parent / "molde.secret").write_text("m" * 32, "utf-8")
    molde = BERGEN.replace("bergen", "molde").replace("4601", "1506")
    molde = molde.replace("secret_env: RELAY_SECRET_B", "secret_file: molde.secret")
    routes_file.write_text(routes_file.read_text("utf-8") + molde, "utf-8")
    assert running.current(force=True).recipients["molde"].secret == "m" * 32
    assert check(routes_file)[1].get("error") is None
