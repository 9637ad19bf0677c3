"""The simulated case system's own storage: a SQLite database of what it was sent."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS stored (
    id TEXT PRIMARY KEY,
    saksreferanse TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    body BLOB NOT NULL,
    mottatt TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS posts (
    id TEXT NOT NULL,
    status INTEGER NOT NULL,
    at TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
-- `posted` asks it of every delivery: without it each read every post so far.
CREATE INDEX IF NOT EXISTS posts_by_id ON posts (id);
"""


@dataclass(frozen=True)
class StoredReport:
    id: str
    saksreferanse: str
    sha256: str
    mottatt: str


class SandboxStore:
    def __init__(self, path: Path | None = None) -> None:
        target = str(path) if path else ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(SCHEMA)

    def store(
        self, report_id: str, sha256: str, body: bytes, mottatt: str, now: datetime
    ) -> tuple[StoredReport, bool]:
        """Store once per id; returns (what is stored, whether it was stored now)."""
        with self._lock:
            existing = self._get(report_id)
            if existing is not None:
                return existing, False
            reference = f"SAK-{uuid.uuid4().hex[:12].upper()}"
            self._db.execute(
                "INSERT INTO stored VALUES (?, ?, ?, ?, ?, ?)",
                (report_id, reference, sha256, body, mottatt, now.isoformat()),
            )
            return StoredReport(report_id, reference, sha256, mottatt), True

    def record_post(self, report_id: str, status: int, now: datetime, note: str = "") -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO posts VALUES (?, ?, ?, ?)", (report_id, status, now.isoformat(), note)
            )

    def posted(self, report_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM posts WHERE id = ? LIMIT 1", (report_id,)
            ).fetchone()
        return row is not None

    def posts(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, status, at, note FROM posts ORDER BY rowid"
            ).fetchall()
        return [{"id": r[0], "status": r[1], "at": r[2], "note": r[3]} for r in rows]

    def get(self, report_id: str) -> StoredReport | None:
        with self._lock:
            return self._get(report_id)

    def body(self, report_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM stored WHERE id = ?", (report_id,)).fetchone()
        return bytes(row[0]) if row else None

    def ids_since(self, mottatt_fra: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM stored WHERE mottatt >= ? ORDER BY mottatt", (mottatt_fra,)
            ).fetchall()
        return [row[0] for row in rows]

    def all(self) -> list[StoredReport]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, saksreferanse, sha256, mottatt FROM stored ORDER BY stored_at"
            ).fetchall()
        return [StoredReport(*row) for row in rows]

    def post_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT id, COUNT(*) FROM posts GROUP BY id").fetchall()
        return {row[0]: row[1] for row in rows}

    def forget(self, report_id: str) -> bool:
        """Lose a stored report, as a broken case system would."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM stored WHERE id = ?", (report_id,))
        return cursor.rowcount == 1

    def _get(self, report_id: str) -> StoredReport | None:
        row = self._db.execute(
            "SELECT id, saksreferanse, sha256, mottatt FROM stored WHERE id = ?", (report_id,)
        ).fetchone()
        return StoredReport(*row) if row else None
