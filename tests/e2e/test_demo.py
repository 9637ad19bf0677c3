"""`relay demo` is a deliverable: it must end well, with and without faults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("args", [["--reports", "12"], ["--reports", "16", "--faults"]])
def test_the_demo_ends_with_every_report_where_it_belongs(tmp_path: Path, args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    result = subprocess.run(
        [sys.executable, "-m", "relay", "demo", *args, "--timeout", "120"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    said = " ".join(result.stdout.split())  # rich wraps lines to the terminal's width
    assert "verified and is stored exactly once" in said
    if "--faults" in args:
        assert "every refused one is dead-lettered with its reason" in said
    assert_the_printed_command_shows_a_report(result.stdout, tmp_path, env)


def assert_the_printed_command_shows_a_report(
    output: str, folder: Path, env: dict[str, str]
) -> None:
    """The demo says where its ledger is and how to look into it; that command works."""
    assert "The demo's ledger is var/demo-runs/" in output
    (command,) = [line.strip() for line in output.splitlines() if " status " in line]
    assert command.startswith("RELAY_DATA_DIR=var/demo-runs/")
    shown = subprocess.run(
        ["bash", "-c", command],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "state: VERIFIED" in shown.stdout or "state: DEAD_LETTERED" in shown.stdout
    assert shown.stderr == "", "a read-only command prints nothing else"
