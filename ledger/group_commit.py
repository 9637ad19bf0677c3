"""Group commit: the small transactions of many threads written as one, for a ledger with
one writer (SQLite).

On SQLite every transaction holds the file's only write lock and ends in a sync to disk, so
threads that want to write while one transaction is being written wait for it anyway. Here
the first of them to find the writer free writes everything that is waiting by then in one
transaction, each piece of work in a savepoint of its own, and one commit (one sync) makes
them all durable. While it writes, new work queues; when it is done it hands the writing on
to the oldest work waiting, so nobody waits for more than the batch in front of them.

Each caller gets its answer only after the commit that stored its work. Work that raises
gets its own error, its savepoint rolled back, the others untouched; if the commit fails,
every caller of the batch gets that error and nothing of the batch is stored.
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

    def answer(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # stored: its work returned it


class GroupCommit:
    """`run(work)` calls `work(uow)` in a savepoint of a transaction it may share with
    other threads' work, and returns its value once that transaction has committed. `work`
    must not commit; it may be run on another thread than the caller's."""

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

    def run(self, work: Callable[[UnitOfWork], T]) -> T:
        mine = _Work(work)
        with self._lock:
            self._waiting.append(mine)
            writes, self._writing = not self._writing, True
        if not writes:
            mine.woken.wait()
        if not mine.finished:  # the writing is ours: our work is in this batch
            self._write_one_batch()
        return mine.answer()

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
        try:
            with self._uow_factory() as uow:
                for work in batch:
                    try:
                        with uow.savepoint():
                            work.value = work.work(uow)
                    except Exception as error:  # this work's own, and only its own
                        work.error = error
                uow.commit()
        except Exception as error:  # the transaction failed (to begin, or to commit)
            for work in batch:
                if work.error is None:  # none of it is stored; its own errors stay
                    work.value, work.error = None, error
            return
        self.commits += 1
        for work in batch:
            work.stored = work.error is None
