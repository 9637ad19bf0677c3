"""`relay bench --only`: a thin launcher for the source checkout's benchmarks, which the
wheel does not ship. What it refuses and where it looks; no benchmark is run here."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from relay.cli import checkout_bench, main
from relay.cli.checkout_bench import CHECKOUT_BENCHMARKS, find_checkout


def checkout(root: Path, module: str = "backlog", stack: bool = True) -> Path:
    (root / "benchmarks").mkdir(parents=True)
    (root / "benchmarks" / f"{module}.py").write_text("", "utf-8")
    if stack:
        (root / "tests" / "support").mkdir(parents=True)
        (root / "tests" / "support" / "stack.py").write_text("", "utf-8")
    return root


def test_the_first_candidate_with_the_benchmark_and_the_test_stack_is_the_checkout(
    tmp_path: Path,
) -> None:
    wheel = tmp_path / "site-packages"
    wheel.mkdir()
    half = checkout(tmp_path / "half", stack=False)  # benchmarks/ without tests/support
    full = checkout(tmp_path / "full")
    assert find_checkout([wheel, half, full], "backlog") == full
    assert find_checkout([wheel, half, full], "worker_rss") is None


def test_every_name_runs_a_benchmark_of_this_checkout() -> None:
    root = Path(__file__).resolve().parents[2]
    for module in CHECKOUT_BENCHMARKS.values():
        assert (root / "benchmarks" / f"{module}.py").is_file(), module


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "--only", "backlog", "--reports", "5"], "after `--`"),
        (["bench", "--", "--reports", "5"], "benchmark named by --only"),
    ],
)
def test_options_meant_for_a_benchmark_are_refused_where_they_would_be_lost(
    args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output


def test_without_a_checkout_it_says_where_the_benchmark_lives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkout_bench, "checkout_candidates", lambda: [tmp_path])
    result = CliRunner().invoke(main, ["bench", "--only", "stages", "--", "--seconds", "1"])
    assert result.exit_code == 2
    assert "part of the source checkout" in result.output
