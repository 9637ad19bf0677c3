"""Group commit (`ledger.group_commit`): reports that arrive while a transaction is being
written are written together in the next one, each answered only after it commits; one that
fails is written alone, the others of its batch again without it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, text

from intake.service import Accepted, Submission, accept_in, accept_report, submission_from_body
from ledger.clock import utc_now
from ledger.group_commit import GroupCommit
from ledger.uow import UnitOfWork
from tests.support.ledger import TEST_KEYS
from tests.support.reports import submission

PRIVAT = "no.ks.fiks.bekymringsmelding.privat.v2"


def new(key: str | None = None, text_: str = "nr 1") -> Submission:
    body = json.dumps(submission(PRIVAT, text=text_)).encode()
    return submission_from_body("portal", key, body)


def stored(engine: Engine, report_id: str) -> bool:
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM reports WHERE id = :id"), {"id": report_id}
        )
        return bool(found.scalar_one() == 1)


def reports(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM reports")).scalar_one())


def until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


Work = tuple[Callable[[UnitOfWork], Any], Callable[[Exception], Any] | None]  # work, alone


def in_one_batch(engine: Engine, works: list[Work]) -> tuple[GroupCommit, list[Any]]:
    """Run `works` so that all go in one transaction: a first piece of work holds the writer
    until they have all queued behind it. Each result is the work's value or its error."""
    group = GroupCommit(lambda: UnitOfWork(engine, TEST_KEYS))
    writing = threading.Event()

    def first(uow: UnitOfWork) -> None:
        writing.set()
        until(lambda: group.queued == len(works))

    def answer(work: Work) -> Any:
        try:
            return group.run(*work)
        except Exception as error:
            return error

    with ThreadPoolExecutor(len(works) + 1) as pool:
        holder = pool.submit(group.run, first)
        writing.wait(10)
        answers = [pool.submit(answer, work) for work in works]
        holder.result(10)
        return group, [future.result(10) for future in answers]


def accept(engine: Engine, one: Submission) -> Work:
    """As the intake API does: in the group, and alone if that fails."""
    return (
        lambda uow: accept_in(uow, one, now=utc_now),
        lambda _: accept_report(lambda: UnitOfWork(engine, TEST_KEYS), one, now=utc_now),
    )


def test_reports_that_arrive_together_share_one_commit_and_are_answered_after_it(
    ledger_engine: Engine,
) -> None:
    group, answers = in_one_batch(
        ledger_engine, [accept(ledger_engine, new(text_=f"nr {n}")) for n in range(8)]
    )
    assert all(isinstance(accepted, Accepted) for accepted in answers)
    assert [stored(ledger_engine, accepted.id) for accepted in answers] == [True] * 8
    assert len({a.id for a in answers}) == 8
    assert group.commits == 2  # the holder's, then all eight in one


def test_work_that_fails_is_rolled_back_alone_and_the_others_written_again(
    ledger_engine: Engine,
) -> None:
    def broken(uow: UnitOfWork) -> Accepted:
        accept_in(uow, new(text_="rolled back"), now=utc_now)
        raise ValueError("a bug")

    ok = accept(ledger_engine, new())
    group, answers = in_one_batch(ledger_engine, [ok, (broken, None), ok])
    assert isinstance(answers[1], ValueError)
    # Their answers are from the transaction that committed, not the one rolled back.
    assert all(stored(ledger_engine, a.id) for a in (answers[0], answers[2]))
    assert reports(ledger_engine) == 2
    assert group.commits == 2  # the holder's; the batch without the broken work


def test_a_key_used_twice_in_one_transaction_gets_the_first_answer(ledger_engine: Engine) -> None:
    same = accept(ledger_engine, new(key="k-1"))
    _, answers = in_one_batch(ledger_engine, [same, same])
    first, second = answers
    assert (second.id, second.replay) == (first.id, True)
    assert reports(ledger_engine) == 1


def test_a_key_reused_with_another_body_in_one_transaction_is_refused(
    ledger_engine: Engine,
) -> None:
    _, answers = in_one_batch(
        ledger_engine,
        [accept(ledger_engine, new(key="k-1")), accept(ledger_engine, new(key="k-1", text_="b"))],
    )
    assert isinstance(answers[0], Accepted)
    assert getattr(answers[1], "status", None) == 409
    assert reports(ledger_engine) == 1


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Any:
    before = threading.active_count()
    yield
    until(lambda: threading.active_count() <= before)
