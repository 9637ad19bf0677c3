"""An operator sends a HELD report for a split municipality to the recipient they chose,
from the CLI, while everything runs; the workers route it with their own routes table,
never with the operator's shell's view of it, and it ends VERIFIED with who chose and why
in its history."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from intake.meldingstyper import MELDINGSTYPER
from ledger.digest import sha256_hex
from ledger.lifecycle import State
from tests.support.processes import wait_for
from tests.support.reports import submission
from tests.support.stack import DEFAULT_RECIPIENTS, RecipientSpec, Stack, stack_for

pytestmark = pytest.mark.e2e

# Haram's service (1580, a part of 1507 Ålesund, split in 2024) uses Bergen's case system.
RECIPIENTS = (*DEFAULT_RECIPIENTS, RecipientSpec("haram", ("1580",), case_system="bergen"))
OPERATORS_SECRET = "RELAY_SECRET_ONLY_IN_THE_OPERATORS_SHELL"
SPLIT = "kommunenummer 1507 was split in 2024 into 1508 and 1580; choose the recipient"


@pytest.fixture(params=["embedded", "split-postgres-redis"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    beating = {"RELAY_HEARTBEAT_SECONDS": "1"}
    with stack_for(request, tmp_path, request.param, recipients=RECIPIENTS, extra_env=beating) as s:
        yield s


def operators_shell(stack: Stack) -> dict[str, str]:
    """The operator's environment: none of the workers' secrets, and one of their own."""
    env = {key: value for key, value in stack.env.items() if not key.startswith("RELAY_SECRET_")}
    env[OPERATORS_SECRET] = "o" * 32
    return env


def relay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "relay", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def add_alesund(stack: Stack) -> None:
    """Ålesund (1508) gets a recipient whose secret only the operator's shell has: the
    running processes refuse the file and keep the table they have."""
    path = stack.workdir / "routes.yaml"
    document = yaml.safe_load(path.read_text("utf-8"))
    document["recipients"].append(
        {
            "id": "alesund",
            "name": "Barneverntjenesten i Ålesund",
            "serves": ["1508"],
            "vendor": "rest-json",
            "endpoint": stack.sandboxes["bergen"].url,
            "secret_env": OPERATORS_SECRET,
        }
    )
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    temporary.replace(path)


def test_a_split_report_rerouted_to_a_chosen_recipient_ends_verified_with_who_and_why(
    stack: Stack,
) -> None:
    operator = operators_shell(stack)
    routes_file = stack.workdir / "routes.yaml"
    workers_sha256 = sha256_hex(routes_file.read_bytes())
    report_id = stack.submit(submission(MELDINGSTYPER[0], kommunenummer="1507"))
    stack.wait_for_states([report_id], {State.HELD})

    def processes_and_differing() -> tuple[int, int]:
        status = json.loads(relay(operator, "routes", "status", "--json").stdout)
        return status["processes"], len(status["differing"])

    wait_for(
        lambda: processes_and_differing()[0] > 0 and processes_and_differing()[1] == 0,
        timeout=60,
        message="every process reporting the routes file's table in its heartbeats",
    )

    # A file the processes refuse: `routes check` with their secrets says so, with the
    # operator's it does not; `routes status` shows that the processes keep their table.
    add_alesund(stack)
    assert "environment variable" in relay(stack.env, "routes", "check").stderr
    every_secret = {**stack.env, OPERATORS_SECRET: "o" * 32}
    assert "cannot be used" not in relay(every_secret, "routes", "check").stderr
    wait_for(lambda: "routes file refused" in stack.logs(), timeout=60, message="the file refused")
    wait_for(
        lambda: len(set(processes_and_differing())) == 1,  # all of them
        timeout=60,
        message="relay routes status listing the processes that keep their table",
    )
    assert relay(operator, "routes", "status").returncode == 1

    # Chosen a recipient the workers do not have: it stays HELD, with why; nothing is lost.
    prefix = report_id[:8]
    missing = relay(
        operator, "held", "reroute", prefix, "--recipient", "alesund",
        "--reason", "Ålesund asked for it", "--operator", "kari",
    )  # fmt: skip
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert "recipient alesund, chosen by the operator, is not in the routes table" in (
        missing.stdout
    )
    assert stack.state(report_id) is State.HELD

    # Chosen one they have: routed with their table, delivered, verified.
    why = "Haram's service confirmed the child lives in Haram"
    chosen = relay(
        operator, "held", "reroute", prefix, "--recipient", "haram",
        "--reason", why, "--operator", "kari",
    )  # fmt: skip
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert "routed, by recipient: 1" in chosen.stdout
    stack.wait_for_states([report_id], {State.VERIFIED}, timeout=90)

    history = stack.history(report_id)
    moves = [(t.to_state, t.actor, t.reason) for t in history]
    assert moves[1] == (State.HELD, "router", SPLIT)
    asked = [t for t in history if t.actor == "operator:kari"]
    assert [(t.to_state, t.reason, t.detail) for t in asked] == [
        (State.HELD, "Ålesund asked for it", {"reroute": {"recipient": "alesund", "force": False}}),
        (State.HELD, why, {"reroute": {"recipient": "haram", "force": False}}),
    ]
    routed = next(t for t in history if t.to_state is State.ROUTED)
    assert (routed.actor, routed.reason) == ("router", f"as operator:kari asked: {why}")
    assert routed.detail is not None
    assert routed.detail["recipient"] == "haram"
    assert routed.detail["routes_sha256"] == workers_sha256, "not the workers' own table"
    assert moves[-1][0] is State.VERIFIED
    assert State.DEAD_LETTERED not in {state for state, _, _ in moves}

    body = json.loads(stack.sandboxes["bergen"].body(report_id))
    assert body["mottaker"] == {"recipient": "haram", "kommunenummer": "1580"}
    shown = relay(operator, "status", prefix)
    assert f"by operator:kari: {why}" in shown.stdout
