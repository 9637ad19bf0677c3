"""Checking every report's hash chain against the ledger as it is stored.

`verify_chains` walks the chains (all of them, or those of reports changed since a time)
in batches and returns every break (`ledger.chain.chain_break`). `ChainWatch` is the
scheduler job: each run checks the chains of the reports that changed since its last run
(not those it found intact at the same head already), plus the next slice of all reports
(so an old transition edited in place is found too, within a full round), and raises an
alert (kind `chain-broken`) for each break.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ledger.alerts import Alert, alert_fields
from ledger.chain import ChainBreak, chain_break
from ledger.chains import Head

if TYPE_CHECKING:
    from ledger.uow import UnitOfWork

log = logging.getLogger(__name__)

BATCH = 500
CHAIN_BROKEN = "chain-broken"


def walk_chains(
    uow_factory: Callable[[], UnitOfWork],
    since: datetime | None = None,
    *,
    skip: Callable[[Head], bool] = lambda head: False,
) -> Iterator[tuple[Head, ChainBreak | None]]:
    """Every report (changed since `since`; not those `skip` passes over, whose links are
    not read) with its chain's first break, or None."""
    after = ""
    while True:
        with uow_factory() as uow:
            heads = uow.chains.report_heads(since, after=after, limit=BATCH)
            wanted = [head for head in heads if not skip(head)]
            chains = uow.chains.chains([head.report_id for head in wanted]) if wanted else {}
        if not heads:
            return
        for head in wanted:
            broken = chain_break(
                head.report_id, chains[head.report_id], head.last_sequence, head.last_hash
            )
            yield head, broken
        after = heads[-1].report_id


def verify_chains(
    uow_factory: Callable[[], UnitOfWork],
    since: datetime | None = None,
    *,
    advance: Callable[[int], None] = lambda _: None,
) -> list[ChainBreak]:
    breaks = []
    for _head, broken in walk_chains(uow_factory, since):
        if broken is not None:
            breaks.append(broken)
        advance(1)
    return breaks


class ChainWatch:
    """The periodic check: the chains of reports changed since the last run (the first run
    looks back `lookback`), an alert for each break."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        now: Callable[[], datetime],
        *,
        lookback: timedelta = timedelta(days=1),
        overlap: timedelta = timedelta(minutes=5),
        sweep: int = BATCH,
    ) -> None:
        self._uow = uow_factory
        self._now = now
        self._since: datetime | None = None
        self._lookback = lookback
        self._overlap = overlap  # transitions stamped before a slow transaction committed
        self._sweep = sweep
        self._cursor = ""  # the round through every report: the last id checked
        # The heads found intact within the last run's overlap: a report changed since is
        # checked again, one unchanged only by the round. Without it every run re-read and
        # re-hashed every report changed in the overlap (five minutes of them, a minute
        # apart): seconds of CPU a run while a 10,000-report backlog drained.
        self._intact: dict[str, tuple[int, str]] = {}

    def __call__(self) -> int:
        started = self._now()
        since = self._since or started - self._lookback
        window: dict[str, tuple[int, str]] = {}  # heads of the overlap found intact

        def checked(head: Head) -> bool:
            """Found intact at this very head by an earlier run: read again only by the
            round (`_next_slice`), not at every run while it is within the overlap."""
            seen = (head.last_sequence, head.last_hash)
            if self._intact.get(head.report_id) != seen:
                return False
            window[head.report_id] = seen
            return True

        changed = list(walk_chains(self._uow, since - self._overlap, skip=checked))
        for head, found in changed:
            if found is None:
                window[head.report_id] = (head.last_sequence, head.last_hash)
        broken = 0
        for head, found in [*changed, *self._next_slice()]:
            if found is None:
                continue
            broken += 1
            reason = f"sequence {found.sequence}: {found.reason}"
            with self._uow() as uow:
                alert = Alert(
                    head.report_id, CHAIN_BROKEN, head.recipient, head.state, reason, started
                )
                new = uow.alerts.raise_once(alert)
                uow.commit()
            if new:
                log.error(
                    "ALERT %s: report %s's hash chain breaks at %s",
                    CHAIN_BROKEN,
                    head.report_id,
                    reason,
                    extra=alert_fields(alert),
                )
        self._since = started
        self._intact = window
        return broken

    def _next_slice(self) -> list[tuple[Head, ChainBreak | None]]:
        with self._uow() as uow:
            heads = uow.chains.report_heads(None, after=self._cursor, limit=self._sweep)
            chains = uow.chains.chains([head.report_id for head in heads])
        self._cursor = heads[-1].report_id if len(heads) == self._sweep else ""
        return [
            (
                head,
                chain_break(
                    head.report_id, chains[head.report_id], head.last_sequence, head.last_hash
                ),
            )
            for head in heads
        ]
