"""Questions about the hash chains as stored, and the checkpoint log, in one transaction.

`heads` gives each chain's head at a moment (for a checkpoint's Merkle root),
`report_heads` and `chains` the recorded heads and the links (for `ledger.verification`);
`append` and `latest` keep the append-only log of signed checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from sqlalchemy import Connection, func, select

from ledger import schema
from ledger.checkpoint import ChainHead, Checkpoint
from ledger.records import Transition, transition_from_row


@dataclass(frozen=True)
class Head:
    """A report's recorded chain head, with what an alert about it needs."""

    report_id: str
    state: str
    recipient: str | None
    last_sequence: int
    last_hash: str


class ChainStore:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def heads(self, cutoff: datetime) -> list[ChainHead]:
        """Each report's last transition at or before `cutoff` (reports with none: left out)."""
        transitions = schema.transitions.c
        last = (
            select(transitions.report_id, func.max(transitions.sequence).label("sequence"))
            .where(transitions.at <= cutoff)
            .group_by(transitions.report_id)
            .subquery()
        )
        rows = self._db.execute(
            select(transitions.report_id, transitions.sequence, transitions.hash).join(
                last,
                (transitions.report_id == last.c.report_id)
                & (transitions.sequence == last.c.sequence),
            )
        )
        return [ChainHead(*row) for row in rows]

    def append(self, checkpoint: Checkpoint, created_at: datetime) -> int:
        result = self._db.execute(
            schema.checkpoints.insert()
            .values(
                cutoff=checkpoint.cutoff,
                created_at=created_at,
                reports=checkpoint.reports,
                root=checkpoint.root,
                public_key=checkpoint.public_key,
                signature=checkpoint.signature,
            )
            .returning(schema.checkpoints.c.number)
        )
        return int(result.scalar_one())

    def latest(self) -> Checkpoint | None:
        row = (
            self._db.execute(
                select(schema.checkpoints).order_by(schema.checkpoints.c.number.desc()).limit(1)
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return Checkpoint(
            cutoff=row["cutoff"],
            reports=row["reports"],
            root=row["root"],
            public_key=row["public_key"],
            signature=row["signature"],
            number=row["number"],
        )

    def count_reports(self, since: datetime | None) -> int:
        query = select(func.count()).select_from(schema.reports)
        if since is not None:
            query = query.where(schema.reports.c.updated_at >= since)
        return int(self._db.execute(query).scalar_one())

    def report_heads(self, since: datetime | None, *, after: str, limit: int) -> list[Head]:
        """Reports (changed since `since`) in id order after `after`, with their heads."""
        reports = schema.reports.c
        query = select(
            reports.id, reports.state, reports.recipient, reports.last_sequence, reports.last_hash
        ).where(reports.id > after)
        if since is not None:
            query = query.where(reports.updated_at >= since)
        return [Head(*row) for row in self._db.execute(query.order_by(reports.id).limit(limit))]

    def chains(self, report_ids: list[str]) -> dict[str, list[Transition]]:
        """Each report's transitions in sequence order, as stored."""
        transitions = schema.transitions.c
        rows = self._db.execute(
            select(schema.transitions)
            .where(transitions.report_id.in_(report_ids))
            .order_by(transitions.report_id, transitions.sequence)
        ).mappings()
        chains: dict[str, list[Transition]] = {report_id: [] for report_id in report_ids}
        for report_id, links in groupby(rows, key=lambda row: row["report_id"]):
            chains[report_id] = [transition_from_row(row) for row in links]
        return chains
