"""Group commit's failure paths (`ledger.group_commit`), on a stand-in unit of work that
keeps what its transactions commit: a commit that fails as a full disk's would answers
every caller of the batch with the error; work that raises is rolled back with its batch,
which is written again without it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import pytest

from ledger.group_commit import GroupCommit
from ledger.uow import UnitOfWork


class DiskFull(Exception):
    pass


class Bug(Exception):
    pass


class Ledger:
    """Transactions that keep what was written only if they commit; a commit fails after
    `good` commits."""

    def __init__(self, good: int = 100) -> None:
        self.good = good
        self.kept: list[str] = []
        self.transactions = 0
        self._written: list[str] = []

    def __enter__(self) -> Ledger:
        self.transactions += 1
        self._written = []
        return self

    def __exit__(self, *_: object) -> None:
        self._written = []  # not committed: rolled back

    def write(self, value: str) -> str:
        self._written.append(value)
        return value

    def commit(self) -> None:
        if self.good <= 0:
            raise DiskFull
        self.good -= 1
        self.kept += self._written
        self._written = []


Call = tuple[Callable[[Any], str], Callable[[Exception], str] | None]  # work, alone


def writes(value: str) -> Call:
    return (lambda ledger: ledger.write(value), None)


def raises(value: str, alone: Callable[[Exception], str] | None = None) -> Call:
    def work(ledger: Any) -> str:
        ledger.write(value)
        raise Bug(value)

    return (work, alone)


def in_one_batch(ledger: Ledger, calls: list[Call]) -> tuple[GroupCommit, list[Any]]:
    """`calls` in one batch: a first piece of work holds the writer until all have queued
    behind it (its own transaction commits first). Each answer is a value or an error."""
    group = GroupCommit(lambda: cast(UnitOfWork, ledger))
    holding = threading.Event()

    def hold(_: Any) -> str:
        holding.set()
        while group.queued < len(calls):
            threading.Event().wait(0.005)
        return "holder"

    def answer(call: Call) -> Any:
        try:
            return group.run(*call)
        except (DiskFull, Bug) as error:
            return error

    with ThreadPoolExecutor(len(calls) + 1) as pool:
        holder = pool.submit(group.run, hold)
        holding.wait(10)
        answers = [pool.submit(answer, call) for call in calls]
        return group, [holder.result(10), *(future.result(10) for future in answers)]


def test_values_are_answered_after_their_commit() -> None:
    ledger = Ledger()
    group, answers = in_one_batch(ledger, [writes("a"), writes("b"), writes("c")])
    assert answers == ["holder", "a", "b", "c"]
    assert (ledger.kept, group.commits) == (["a", "b", "c"], 2)


def test_a_failed_commit_answers_every_caller_of_its_batch_with_the_error() -> None:
    ledger = Ledger(good=1)
    alone = raises("b", lambda _: "b")
    _, (holder, *batch) = in_one_batch(ledger, [writes("a"), alone, writes("c")])
    assert holder == "holder"
    # b's own error spoiled the first try; the commit of a and c failed; b went alone.
    assert [type(answer) for answer in batch] == [DiskFull, str, DiskFull]
    assert ledger.kept == []


def test_work_that_raises_gets_its_error_and_the_rest_is_written_again_without_it() -> None:
    ledger = Ledger()
    group, answers = in_one_batch(ledger, [writes("a"), raises("b"), writes("c"), raises("d")])
    assert [type(answer) for answer in answers] == [str, str, Bug, str, Bug]
    assert ledger.kept == ["a", "c"]
    # The holder's; a then b (rolled back); a, c then d (rolled back); a and c committed.
    assert (ledger.transactions, group.commits) == (4, 2)


def test_work_that_raises_is_answered_by_its_alone_given_its_error() -> None:
    ledger = Ledger()

    def alone(error: Exception) -> str:
        return ledger.write(f"{error} alone")

    _, answers = in_one_batch(ledger, [writes("a"), raises("b", alone)])
    assert answers == ["holder", "a", "b alone"]
    assert ledger.kept == ["a"]  # alone writes in transactions of its own, not here


def test_the_writer_is_handed_on_after_a_failure() -> None:
    ledger = Ledger(good=0)
    group = GroupCommit(lambda: cast(UnitOfWork, ledger))
    with pytest.raises(DiskFull):
        group.run(writes("lost")[0])
    ledger.good = 1
    assert group.run(writes("kept")[0]) == "kept"
    assert ledger.kept == ["kept"]
