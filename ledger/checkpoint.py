"""Signed checkpoints of the whole ledger: one Merkle root over every report's chain head.

Each report's hash chain (`ledger.chain`) shows an edited or removed transition, but not a
chain rewritten consistently from its first link by someone with the database's keys. A
checkpoint fixes, at one moment, the head of every chain in one root hash, signed with an
Ed25519 key the database never holds; an auditor who keeps a copy can later recompute the
root from the ledger and compare. Pure: the heads and the key come in as values.

The tree is RFC 6962's (Certificate Transparency): leaves and nodes hashed with distinct
prefixes, split at the largest power of two below the number of leaves.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.clock import rfc3339

VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint (or a signing key) that cannot be read; one line, no key bytes."""


@dataclass(frozen=True, order=True)
class ChainHead:
    report_id: str
    sequence: int
    hash: str

    def leaf(self) -> bytes:
        return f"{self.report_id}:{self.sequence}:{self.hash}".encode("ascii")


def merkle_root(heads: Sequence[ChainHead]) -> str:
    """The root over the heads in report id order (hex); the empty tree is SHA-256 of ""."""
    leaves = [head.leaf() for head in sorted(heads)]
    return _tree([hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]).hex()


def _tree(hashes: list[bytes]) -> bytes:
    if not hashes:
        return hashlib.sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    split = 1 << ((len(hashes) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _tree(hashes[:split]) + _tree(hashes[split:])).digest()


@dataclass(frozen=True)
class Checkpoint:
    """The heads of every chain whose transitions are at or before `cutoff`."""

    cutoff: datetime
    reports: int
    root: str
    public_key: str  # base64 of the raw Ed25519 public key
    signature: str  # base64, over `signed_bytes()`
    number: int | None = None  # its place in the ledger's checkpoint log

    def signed_bytes(self) -> bytes:
        return signed_bytes(self.cutoff, self.reports, self.root)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "number": self.number,
            "cutoff": rfc3339(self.cutoff),
            "reports": self.reports,
            "root": self.root,
            "public_key": self.public_key,
            "signature": self.signature,
        }


def signed_bytes(cutoff: datetime, reports: int, root: str) -> bytes:
    fields = {"version": VERSION, "cutoff": rfc3339(cutoff), "reports": reports, "root": root}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def make_checkpoint(
    heads: Sequence[ChainHead], cutoff: datetime, key: Ed25519PrivateKey
) -> Checkpoint:
    root = merkle_root(heads)
    signature = key.sign(signed_bytes(cutoff, len(heads), root))
    return Checkpoint(cutoff, len(heads), root, public_key_text(key.public_key()), _b64(signature))


def signature_holds(checkpoint: Checkpoint) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(checkpoint.public_key))
        public.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def checkpoint_from_json(value: Any) -> Checkpoint:
    """One checkpoint as `Checkpoint.as_json` wrote it. Raises `CheckpointError`."""
    try:
        if value["version"] != VERSION:
            raise CheckpointError(f"checkpoint version {value['version']!r} is not {VERSION}")
        cutoff = datetime.fromisoformat(value["cutoff"].replace("Z", "+00:00"))
        return Checkpoint(
            cutoff=cutoff,
            reports=int(value["reports"]),
            root=str(value["root"]),
            public_key=str(value["public_key"]),
            signature=str(value["signature"]),
            number=value.get("number"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"not a checkpoint ({type(error).__name__}: {error})") from None


def public_key_text(key: Ed25519PublicKey) -> str:
    return _b64(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def signing_key_from_text(text: str, *, source: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from the base64 of its 32-byte seed."""
    encoded = text.strip().replace("-", "+").replace("_", "/")
    try:
        seed = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{source} is not base64") from None
    if len(seed) != 32:
        raise CheckpointError(f"{source} is {len(seed)} bytes; an Ed25519 key is 32")
    return Ed25519PrivateKey.from_private_bytes(seed)


def new_signing_key_text() -> str:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    key = Ed25519PrivateKey.generate()
    return _b64(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
