"""The checkpoint log: signed Merkle roots over every report's chain head (`ledger.checkpoint`).

`write_checkpoint` (a scheduler job) computes one over every chain as it stood `settle`
seconds ago, signs it, appends it to the ledger's append-only `checkpoints` table and hands
it to `publish` (a file, the alert webhook), so that a copy lives outside the database.
`compare` recomputes a checkpoint's root from the ledger as it is now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint, make_checkpoint, merkle_root

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

# Transitions are stamped just before their transaction commits; a checkpoint covers only
# those older than this, so that none can still appear behind it.
SETTLE_SECONDS = 300


def write_checkpoint(
    uow_factory: Callable[[], UnitOfWork],
    key: Ed25519PrivateKey,
    now: Callable[[], datetime],
    publish: Callable[[Checkpoint], None],
    *,
    settle_seconds: float = SETTLE_SECONDS,
) -> Checkpoint:
    """Sign the heads of every chain as of `settle_seconds` ago, log it, publish it."""
    at = now()
    cutoff = at - timedelta(seconds=settle_seconds)
    with uow_factory() as uow:
        checkpoint = make_checkpoint(uow.chains.heads(cutoff), cutoff, key)
        number = uow.chains.append(checkpoint, at)
        uow.commit()
    numbered = Checkpoint(**{**vars(checkpoint), "number": number})
    log.info(
        "checkpoint %d: %d reports, root %s (as of %s)",
        number,
        numbered.reports,
        numbered.root,
        cutoff.isoformat(),
    )
    publish(numbered)
    return numbered


@dataclass(frozen=True)
class Comparison:
    checkpoint: Checkpoint
    reports: int  # chains the ledger has now at the checkpoint's cutoff
    root: str  # their root now

    @property
    def holds(self) -> bool:
        return self.reports == self.checkpoint.reports and self.root == self.checkpoint.root


def compare(uow_factory: Callable[[], UnitOfWork], checkpoint: Checkpoint) -> Comparison:
    """The ledger's root now, over the chains as they stood at the checkpoint's cutoff."""
    with uow_factory() as uow:
        heads = uow.chains.heads(checkpoint.cutoff)
    return Comparison(checkpoint, len(heads), merkle_root(heads))
