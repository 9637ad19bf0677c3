"""Group commit's failure paths (`ledger.group_commit`), on a unit of work whose commit
fails as a full disk's would: every caller of the batch gets the error, none a value."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, cast

import pytest

from ledger.group_commit import GroupCommit
from ledger.uow import UnitOfWork


class DiskFull(Exception):
    pass


class FailingCommit:
    """Savepoints as a unit of work has them; its commit fails after `good` commits."""

    def __init__(self, good: int) -> None:
        self.good = good
        self.commits = 0

    def __enter__(self) -> FailingCommit:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        yield

    def commit(self) -> None:
        if self.commits >= self.good:
            raise DiskFull
        self.commits += 1


def batch_of_three(good_commits: int) -> list[Any]:
    uow = FailingCommit(good_commits)
    group = GroupCommit(lambda: cast(UnitOfWork, uow))
    holding = threading.Event()

    def hold(_: UnitOfWork) -> str:
        holding.set()
        while group.queued < 3:
            threading.Event().wait(0.005)
        return "holder"

    def answer(value: str) -> Any:
        try:
            return group.run(lambda _: value)
        except DiskFull as error:
            return error

    with ThreadPoolExecutor(4) as pool:
        holder = pool.submit(group.run, hold)
        holding.wait(10)
        answers = [pool.submit(answer, value) for value in ("a", "b", "c")]
        return [holder.result(10), *(future.result(10) for future in answers)]


def test_values_are_answered_after_their_commit() -> None:
    assert batch_of_three(good_commits=2) == ["holder", "a", "b", "c"]


def test_a_failed_commit_answers_every_caller_of_its_batch_with_the_error() -> None:
    holder, *batch = batch_of_three(good_commits=1)
    assert holder == "holder"
    assert [type(answer) for answer in batch] == [DiskFull] * 3


def test_the_writer_is_handed_on_after_a_failure() -> None:
    uow = FailingCommit(good=0)
    group = GroupCommit(lambda: cast(UnitOfWork, uow))
    with pytest.raises(DiskFull):
        group.run(lambda _: "lost")
    uow.good = 1
    assert group.run(lambda _: "kept") == "kept"
