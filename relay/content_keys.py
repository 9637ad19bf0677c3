"""The keys a process starts with: the content key ring and the checkpoint signing key.

Read at start-up from `RELAY_CONTENT_KEYS` or `RELAY_CONTENT_KEY_FILE` (and
`RELAY_CHECKPOINT_SIGNING_KEY` or `RELAY_CHECKPOINT_KEY_FILE`), never at import time. The
embedded default (a SQLite ledger) makes each key file beside its data the first time, readable
by its owner only, and says so once. A ring is then checked against the ledger: a key whose
id the ledger knows but whose bytes differ, or content stored under a key the ring lacks,
stops the start. Errors are `KeyRingError` or `CheckpointError`, one line each.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, inspect

from ledger.checkpoint import CheckpointError, new_signing_key_text, signing_key_from_text
from ledger.content_crypto import KeyRing, KeyRingError, new_key_line, parse_key_ring
from ledger.database import is_sqlite
from ledger.uow import UnitOfWork
from relay.settings import Settings

log = logging.getLogger(__name__)

CONTENT_KEY_FILE = "content.keys"
SIGNING_KEY_FILE = "checkpoint-signing.key"


def content_key_ring(settings: Settings) -> KeyRing:
    """The ring from the settings (or the embedded default's key file). Raises `KeyRingError`."""
    text = settings.content_keys.get_secret_value().strip()
    if text and settings.content_key_file is not None:
        raise KeyRingError("set RELAY_CONTENT_KEYS or RELAY_CONTENT_KEY_FILE, not both")
    if text:
        return parse_key_ring(text, source="RELAY_CONTENT_KEYS")
    path = settings.content_key_file
    if path is None:
        if not is_sqlite(settings.database_url):
            raise KeyRingError(
                "RELAY_CONTENT_KEYS (or RELAY_CONTENT_KEY_FILE) is not set: report content is "
                "stored encrypted; make a key with `relay keys new` and keep it safe"
            )
        path = settings.data_dir / CONTENT_KEY_FILE
        _create_once(path, new_key_line("k1") + "\n", "content key")
    return parse_key_ring(_read_private(path, KeyRingError), source=str(path))


def checkpoint_signing_key(settings: Settings) -> Ed25519PrivateKey | None:
    """The Ed25519 key that signs checkpoints; None where none is set (production).
    Raises `CheckpointError`."""
    text = settings.checkpoint_signing_key.get_secret_value().strip()
    if text and settings.checkpoint_key_file is not None:
        raise CheckpointError(
            "set RELAY_CHECKPOINT_SIGNING_KEY or RELAY_CHECKPOINT_KEY_FILE, not both"
        )
    if text:
        return signing_key_from_text(text, source="RELAY_CHECKPOINT_SIGNING_KEY")
    path = settings.checkpoint_key_file
    if path is None:
        if not is_sqlite(settings.database_url):
            return None
        path = settings.data_dir / SIGNING_KEY_FILE
        _create_once(path, new_signing_key_text() + "\n", "checkpoint signing key")
    return signing_key_from_text(_read_private(path, CheckpointError), source=str(path))


def _create_once(path: Path, content: str, what: str) -> None:
    """Create `path` (owner-only) unless it exists; whoever creates it says so, once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    log.warning(
        "created the %s file %s (readable by its owner only): back it up with the ledger; "
        "without it the ledger's content cannot be read",
        what,
        path,
    )


def _read_private(path: Path, error: type[ValueError]) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise error(f"{path} is readable by others than its owner; chmod 600 {path}")
        return path.read_text("ascii")
    except OSError as problem:
        raise error(f"{path}: cannot read the key file ({problem.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a key file (not ASCII)") from None


def check_against_ledger(
    engine: Engine, ring: KeyRing, now: Callable[[], datetime], *, source: str
) -> None:
    """Stop the start when the ring is not the one the ledger's content was sealed with.

    Each key's check value is kept in the ledger the first time a process starts with it
    (and passes). A ledger not migrated yet has nothing to check."""
    if not inspect(engine).has_table("content_keys"):
        return
    _check(engine, ring, source)
    with UnitOfWork(engine) as uow:
        known = uow.contents.check_values()
        for key in ring.keys:
            if key.id not in known:
                uow.contents.register_key(key.id, ring.check_value(key.id), now())
        uow.commit()
    _check(engine, ring, source)  # again: a process starting beside us may have won


def _check(engine: Engine, ring: KeyRing, source: str) -> None:
    with UnitOfWork(engine) as uow:
        known = uow.contents.check_values()
        in_use = uow.contents.key_ids_in_use()
    for key_id, check_value in known.items():
        if key_id in ring.ids and not ring.matches(key_id, check_value):
            raise KeyRingError(
                f"{source}: key {key_id!r} is not the key of that id the ledger knows "
                "(a wrong key?); content sealed with it could not be read"
            )
    lacking = sorted(key_id for key_id in in_use if key_id is not None and key_id not in ring.ids)
    if lacking:
        raise KeyRingError(
            f"{source} lacks key {', '.join(lacking)}: content in the ledger is sealed with it"
        )


def default_key_source(settings: Settings) -> str:
    if settings.content_keys.get_secret_value().strip():
        return "RELAY_CONTENT_KEYS"
    return str(settings.content_key_file or settings.data_dir / CONTENT_KEY_FILE)
