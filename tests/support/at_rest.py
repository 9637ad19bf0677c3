"""Where report content could come to rest outside the case system, searched for a canary:
the ledger's and the embedded broker's SQLite files (WAL included), a `pg_dump` of the
PostgreSQL ledger, every command a Redis broker was sent, and the processes' logs."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url


def forms(canary: str) -> list[bytes]:
    """The canary as it may be stored: UTF-8, JSON-escaped, its ASCII first word, and that
    word in hex (how `pg_dump` writes a bytea column)."""
    import json

    word = canary.split()[0].encode()
    return [canary.encode(), json.dumps(canary).encode(), word, word.hex().encode()]


def found_in(data: bytes, canary: str) -> bool:
    return any(form in data for form in forms(canary))


def sqlite_files(data_dir: Path) -> list[Path]:
    return sorted(path for path in data_dir.glob("*.sqlite*") if path.is_file())


def pg_dump(database_url: str) -> bytes:
    binary = shutil.which("pg_dump")
    assert binary is not None, "pg_dump is not on PATH"
    url = make_url(database_url).set(drivername="postgresql")
    result = subprocess.run(
        [binary, "--no-owner", url.render_as_string(hide_password=False)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout


@contextmanager
def redis_monitor(redis_url: str, path: Path) -> Iterator[Path]:
    """Every command the Redis server receives while the block runs, written to `path`."""
    binary = shutil.which("redis-cli")
    assert binary is not None, "redis-cli is not on PATH"
    with path.open("wb") as out:
        process = subprocess.Popen([binary, "-u", redis_url, "monitor"], stdout=out)
    try:
        time.sleep(0.3)  # MONITOR is on before the first report is sent
        yield path
    finally:
        process.terminate()
        process.wait(timeout=10)
