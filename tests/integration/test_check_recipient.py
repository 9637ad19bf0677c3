"""`relay check-recipient` against real case systems on 127.0.0.1: a `relay sandbox` process
passes every check; receivers broken one contract rule at a time fail exactly the checks
that rule belongs to, each named with what to fix; nothing of the test report's content is
ever printed."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from relay.cli import main
from relay.recipient_check import TEST_MARK
from tests.support.broken_receiver import Breakage, broken_receiver
from tests.support.processes import RelayProcess, free_port

pytestmark = pytest.mark.integration

CHECKS = ("push", "repeat", "read-back", "listing", "bad-signature")
SECRET = "receiver-secret-" + "r" * 32
CONTENT = (TEST_MARK, "Testmelder", "Testbarn", "Testveien", '"bekymringsmelding":')


@dataclass(frozen=True)
class Run:
    exit_code: int
    output: str

    def rows(self) -> dict[str, list[str]]:
        """Each check's table row (its first line): result, seen, what to fix."""
        rows = {}
        for line in self.output.splitlines():
            cells = [cell.strip() for cell in line.strip("│ ").split("│")]
            if cells[0] in CHECKS:
                rows[cells[0]] = cells[1:]
        return rows


def check(url: str, *args: str, secret: str = SECRET) -> Run:
    """`relay check-recipient` in this process (the receivers run in it too, over HTTP)."""
    env = {"CHECK_SECRET": secret, "COLUMNS": "250"}
    result = CliRunner().invoke(
        main, ["check-recipient", url, "--secret-env", "CHECK_SECRET", *args], env=env
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return Run(result.exit_code, result.output)


def assert_no_content(output: str) -> None:
    for piece in CONTENT:
        assert piece not in output


NOT_AFTER_PUSH = {"repeat": "skipped", "read-back": "skipped", "listing": "skipped"}
CASES = [
    # (breakage, each check's result where it is not "pass")
    pytest.param(Breakage(), {}, id="keeps-the-contract"),
    pytest.param(
        Breakage(accepts_any_signature=True), {"bad-signature": "FAIL"}, id="accepts-any-signature"
    ),
    pytest.param(Breakage(stores_refused=True), {"bad-signature": "FAIL"}, id="refuses-but-stores"),
    pytest.param(
        Breakage(new_saksreferanse_on_repeat=True),
        {"repeat": "FAIL"},
        id="new-saksreferanse-on-repeat",
    ),
    pytest.param(
        Breakage(stores_other_bytes=True),
        {"repeat": "FAIL", "read-back": "FAIL"},
        id="read-back-other-bytes",
    ),
    pytest.param(Breakage(forgets=True), {"read-back": "FAIL"}, id="read-back-finds-nothing"),
    pytest.param(Breakage(listing_omits=True), {"listing": "FAIL"}, id="listing-omits"),
    pytest.param(
        Breakage(wrong_receipt_hash=True),
        {"push": "FAIL", **NOT_AFTER_PUSH},
        id="receipt-with-another-hash",
    ),
    pytest.param(
        Breakage(fails=True),
        {"push": "FAIL", **NOT_AFTER_PUSH, "bad-signature": "FAIL"},
        id="answers-500",
    ),
]


@pytest.mark.parametrize(("breakage", "expected"), CASES)
def test_each_broken_rule_is_named_with_what_to_fix(
    breakage: Breakage, expected: dict[str, str]
) -> None:
    with broken_receiver(SECRET, breakage) as url:
        run = check(url)
    rows = run.rows()
    assert {name: row[0] for name, row in rows.items()} == {
        name: expected.get(name, "pass") for name in CHECKS
    }, run.output
    for name in expected:
        assert rows[name][2] not in ("", "-"), f"{name} says nothing about what to fix"
    assert run.exit_code == (1 if expected else 0), run.output
    assert_no_content(run.output)


def test_json_output_names_each_check_and_its_result() -> None:
    with broken_receiver(SECRET, Breakage(listing_omits=True)) as url:
        run = check(url, "--json")
    view = json.loads(run.output)
    assert run.exit_code == 1
    assert view["passed"] is False
    assert [(each["check"], each["result"]) for each in view["checks"]] == [
        ("push", "pass"),
        ("repeat", "pass"),
        ("read-back", "pass"),
        ("listing", "fail"),
        ("bad-signature", "pass"),
    ]
    assert view["checks"][3]["fix"]
    assert_no_content(run.output)


def test_a_secret_the_case_system_does_not_hold_fails_the_push_naming_the_variable() -> None:
    with broken_receiver(SECRET, Breakage()) as url:
        run = check(url, secret="another-secret-" + "a" * 32)
    assert run.exit_code == 1
    assert run.rows()["push"][0] == "FAIL"
    assert "CHECK_SECRET" in run.output


def test_an_unreachable_url_is_one_line_and_no_traceback() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run = check(url)
    assert run.exit_code == 2
    lines = run.output.strip().splitlines()
    assert len(lines) == 1, run.output
    assert lines[0].startswith(f"relay: cannot connect to {url}")
    assert "Traceback" not in run.output


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real `relay sandbox` process, and the environment holding its secret."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELAY_")}
    env["CASE_SYSTEM_SECRET"] = secrets.token_hex(32)
    url = f"http://127.0.0.1:{free_port()}"
    args = ["sandbox", "--port", url.rsplit(":", 1)[1], "--secret-env", "CASE_SYSTEM_SECRET"]
    args += ["--database", str(tmp_path / "sandbox.sqlite")]
    process = RelayProcess("sandbox", args, env, tmp_path).start()
    try:
        process.wait_http(f"{url}/_sandbox/reports")
        yield url, env
    finally:
        process.stop()


def relay_check_recipient(
    url: str, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`relay check-recipient` as its own process, as an IT person runs it."""
    command = ["check-recipient", url, "--secret-env", "CASE_SYSTEM_SECRET", *args]
    return subprocess.run(
        [sys.executable, "-m", "relay", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_relay_sandbox_passes_every_check_and_no_content_is_printed(
    sandbox: tuple[str, dict[str, str]],
) -> None:
    url, env = sandbox
    result = relay_check_recipient(url, env, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    view = json.loads(result.stdout)
    assert [(each["check"], each["result"]) for each in view["checks"]] == [
        (name, "pass") for name in CHECKS
    ]
    stored = httpx.get(f"{url}/_sandbox/reports", timeout=10).json()
    assert [(entry["id"], entry["posts"]) for entry in stored] == [(view["test_report"], 2)]
    body = httpx.get(f"{url}/_sandbox/reports/{view['test_report']}/body", timeout=10)
    assert TEST_MARK in body.text  # it holds the marked test report, and we never show it
    assert_no_content(result.stdout + result.stderr)
    assert body.text not in result.stdout


def test_relay_sandbox_table_lists_every_check_as_passed(
    sandbox: tuple[str, dict[str, str]],
) -> None:
    url, env = sandbox
    result = relay_check_recipient(url, {**env, "COLUMNS": "250"})
    run = Run(result.returncode, result.stdout + result.stderr)
    assert run.exit_code == 0, run.output
    assert {name: row[0] for name, row in run.rows().items()} == dict.fromkeys(CHECKS, "pass")
    assert "all 5 checks passed" in run.output
    assert_no_content(run.output)
