"""The routes table in force in one process, re-read when its file changes: no restart.

`current()` looks at the file at most every `check_seconds` (one `stat`). When the file's
identity changed (device, inode, size or modification time) it reads the file, and when
the content's SHA-256 differs from the table in force it builds a new table and uses it
from then on. A file that cannot be used is refused with an ERROR in the log naming the
problem, and the table in force stays. `relay routes reload` validates the file and then
touches it, so that every process's next look sees a change. `in_force()` says which table
a process uses (its file's SHA-256, and since when), for its heartbeats.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from ledger.clock import utc_now
from ledger.digest import sha256_hex
from router.routes import RoutesFileError, RouteTable, read_routes_file

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0

Build = Callable[[Path, bytes], RouteTable]


@dataclass(frozen=True)
class FileStamp:
    device: int
    inode: int
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class RoutesInForce:
    sha256: str  # of the routes file's bytes the table was built from
    loaded_at: datetime  # when this process started using it


def file_stamp(path: Path) -> FileStamp:
    info = os.stat(path)
    return FileStamp(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


class LiveRoutes:
    """Thread-safe; after a fork the child keeps the parent's table and checks on its own."""

    def __init__(
        self,
        path: Path,
        build: Build,
        *,
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        """Load the file now; raises `RoutesFileError` if it cannot be used."""
        self.path = path
        self._build = build
        self._check_seconds = check_seconds
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._seen: FileStamp | None = self._stamp_or_refuse()
        content = read_routes_file(path)
        self._sha256 = sha256_hex(content)
        self._table = replace(build(path, content), sha256=self._sha256)
        self._in_force = RoutesInForce(self._sha256, wall())
        self._next_check = clock() + check_seconds
        log.info("routes loaded from %s (sha256 %s)", path, self._sha256)

    @property
    def sha256(self) -> str:
        """The SHA-256 of the file content the table in force was built from."""
        return self._sha256

    def in_force(self) -> RoutesInForce:
        """Which table this process uses, after looking at the file if it is time."""
        self.current()
        return self._in_force  # one value, replaced whole: never half of a reload

    def current(self, *, force: bool = False) -> RouteTable:
        """The table in force, after looking at the file if it is time (or `force`)."""
        if not force and self._clock() < self._next_check:
            return self._table
        if not self._lock.acquire(blocking=force):
            return self._table  # another thread is looking right now
        try:
            self._next_check = self._clock() + self._check_seconds
            self._look()
        finally:
            self._lock.release()
        return self._table

    def _look(self) -> None:
        try:
            stamp = file_stamp(self.path)
        except OSError as error:
            if self._seen is not None:
                self._seen = None
                log.error(
                    "routes file %s cannot be read (%s); the table in force (sha256 %s) stays",
                    self.path,
                    error.strerror,
                    self._sha256,
                )
            return
        if stamp == self._seen:
            return
        self._seen = stamp
        try:
            content = read_routes_file(self.path)
            digest = sha256_hex(content)
            if digest == self._sha256:
                return
            table = self._build(self.path, content)
        except RoutesFileError as error:
            log.error(
                "routes file refused; the table in force (sha256 %s) stays: %s",
                self._sha256,
                str(error).replace("\n  ", "; "),
            )
            return
        self._table, self._sha256 = replace(table, sha256=digest), digest
        self._in_force = RoutesInForce(digest, self._wall())
        log.info("routes reloaded from %s (sha256 %s)", self.path, digest)

    def _stamp_or_refuse(self) -> FileStamp:
        try:
            return file_stamp(self.path)
        except OSError as error:
            raise RoutesFileError(
                f"{self.path}: cannot read the routes file ({error.strerror})"
            ) from None
