"""Key rotation: every report's data key wrapped again by the key ring's first key.

Only the wrapped data keys change (content stored before encryption is sealed now); the
sealed content does not. Each batch is its own transaction, each row locked while it is
re-wrapped, so the pipeline goes on meanwhile, and a rotation that stops part-way is
finished by running it again: it picks up whatever is not yet under the first key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ledger.content_crypto import KeyRing

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

BATCH = 100


def remaining(uow_factory: Callable[[], UnitOfWork], keys: KeyRing) -> int:
    with uow_factory() as uow:
        return uow.contents.not_under(keys.primary.id)


def rotate(
    uow_factory: Callable[[], UnitOfWork],
    keys: KeyRing,
    *,
    advance: Callable[[int], None] = lambda _: None,
    batch: int = BATCH,
) -> int:
    """Re-wrap every data key not under `keys.primary`; returns how many were re-wrapped.

    Raises `ContentUnreadable` (after committing the batches before it) for content whose
    key is not in the ring: add that key and run it again."""
    rewrapped = 0
    after = ""
    while True:
        with uow_factory() as uow:
            ids = uow.contents.next_not_under(keys.primary.id, after=after, limit=batch)
        if not ids:
            return rewrapped
        with uow_factory() as uow:
            done = sum(uow.contents.rewrap(report_id, keys) for report_id in ids)
            uow.commit()
        rewrapped += done
        advance(len(ids))
        after = ids[-1]
