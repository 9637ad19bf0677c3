"""Group commit: the small transactions of many threads written as one.

On SQLite, threads that want to write while one transaction is being written wait for it
anyway (for the file's only write lock); on either database each transaction ends in a sync
to disk and costs the writing process a connection checkout, BEGIN and COMMIT. Here the
first of them to find the writer free writes everything that is waiting by then in one
transaction, and one commit (one sync) makes it all durable. While it writes, new work
queues; when it is done it hands the writing on to the oldest work waiting, so nobody waits
for more than the batch in front of them.

Each caller gets its answer only after the commit that stored its work. Work that raises
spoils the transaction (on PostgreSQL any error aborts it; on SQLite a failed statement may
leave its work half written), so it is rolled back and the rest of the batch is written
again without that work, which gets its own error (or is run alone, by its caller, if the
caller said how). No savepoints: they would cost every piece of work two statements more to
save the rare one that fails. If the transaction fails to begin or commit, every caller of
the batch gets that error and nothing of the batch is stored.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

T = TypeVar("T")

MOST_PER_COMMIT = 64


class _Work(Generic[T]):
    def __init__(self, work: Callable[[UnitOfWork], T]) -> None:
        self.work = work
        self.woken = threading.Event()  # finished, or handed the writing
        self.finished = False
        self.stored = False  # its transaction committed
        self.value: T | None = None
        self.error: BaseException | None = None
        self.raised = False  # the error is the work's own, not its transaction's

    def answer(self, alone: Callable[[Exception], T] | None) -> T:
        if self.raised and alone is not None and isinstance(self.error, Exception):
            return alone(self.error)
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # stored: its work returned it


class GroupCommit:
    """`run(work)` calls `work(uow)` in a transaction it may share with other threads'
    work, and returns its value once that transaction has committed. `work` must not
    commit, and must change nothing outside the transaction: it may be run on another
    thread than the caller's, and more than once (when another work of its batch fails,
    its transaction is rolled back and the batch written again)."""

    def __init__(
        self, uow_factory: Callable[[], UnitOfWork], *, most: int = MOST_PER_COMMIT
    ) -> None:
        self._uow_factory = uow_factory
        self._most = most
        self._lock = threading.Lock()
        self._waiting: deque[_Work[Any]] = deque()
        self._writing = False
        self.commits = 0  # for the curious: how many transactions carried the work

    @property
    def queued(self) -> int:
        """How many pieces of work wait for the transaction in front of them."""
        with self._lock:
            return len(self._waiting)

    def run(
        self, work: Callable[[UnitOfWork], T], alone: Callable[[Exception], T] | None = None
    ) -> T:
        """`work`'s value once stored. If `work` raises, nothing of it is stored and its
        error is raised here, or, given `alone`, `alone(error)` is this call's answer: the
        same work done another way, in transactions of its own (on this thread)."""
        mine = _Work(work)
        with self._lock:
            self._waiting.append(mine)
            writes, self._writing = not self._writing, True
        if not writes:
            mine.woken.wait()
        if not mine.finished:  # the writing is ours: our work is in this batch
            self._write_one_batch()
        return mine.answer(alone)

    def _write_one_batch(self) -> None:
        with self._lock:
            batch = [self._waiting.popleft() for _ in range(min(self._most, len(self._waiting)))]
        try:
            self._write(batch)
        finally:
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                self._writing = following is not None
            for work in batch:
                if not work.stored and work.error is None:
                    work.error = RuntimeError("the transaction was interrupted; nothing stored")
                work.finished = True
                work.woken.set()
            if following is not None:  # woken unfinished: the writing is its own
                following.woken.set()

    def _write(self, batch: list[_Work[Any]]) -> None:
        """Write `batch` in one transaction; each time a work raises, without it."""
        pending = batch
        while pending:
            try:
                if self._write_all(pending):
                    self.commits += 1
                    for work in pending:
                        work.stored = True
                    return
            except Exception as error:  # the transaction failed (to begin, or to commit)
                for work in pending:
                    work.value, work.error = None, error
                return
            pending = [work for work in pending if not work.raised]

    def _write_all(self, pending: list[_Work[Any]]) -> bool:
        """Whether every work of `pending` was written and committed; if one raised, it is
        marked and the transaction rolled back."""
        with self._uow_factory() as uow:
            for work in pending:
                try:
                    work.value = work.work(uow)
                except Exception as error:  # this work's own
                    work.error, work.raised = error, True
                    return False
            uow.commit()
            return True
