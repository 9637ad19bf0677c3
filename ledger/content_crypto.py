"""Report content sealed at rest: envelope encryption with a key ring. Pure: no I/O, no clock.

Each report's content is encrypted under a data key of its own (AES-256-GCM, the report id
as associated data, so a sealed document cannot be moved to another report). The data key
is wrapped (AES-256-GCM again, bound to the report id and the key's id) by a key-encryption
key from the ring. The ring's first key wraps new data keys; every key in it unwraps.
Rotating a key re-wraps data keys only: the content's ciphertext never changes.

A key ring is written `id:base64key,id:base64key` (a key file: one per line, `#` comments),
each key 32 random bytes. `new_key_line` makes one.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT = b"\x01"  # the first byte of every sealed document and wrapped key
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_CHECK = b"bekymring-relay content key check"


class KeyRingError(ValueError):
    """A key ring that cannot be used; the message (one line) names the key, never its bytes."""


class ContentUnreadable(Exception):
    """Sealed content that this ring cannot open: its key is not in the ring, or is not the
    key it was sealed with, or the stored bytes were altered. The message names ids only."""


@dataclass(frozen=True)
class ContentKey:
    id: str
    secret: bytes

    def __repr__(self) -> str:  # never the bytes, in a traceback or a log
        return f"ContentKey({self.id!r})"


@dataclass(frozen=True)
class Sealed:
    """What the ledger stores for one report's content."""

    key_id: str
    wrapped_key: bytes
    ciphertext: bytes


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[ContentKey, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyRingError("the key ring is empty")
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise KeyRingError("a key id is used twice in the key ring")

    @property
    def primary(self) -> ContentKey:
        return self.keys[0]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key.id for key in self.keys)

    def key(self, key_id: str) -> ContentKey:
        for key in self.keys:
            if key.id == key_id:
                return key
        raise ContentUnreadable(f"content key {key_id!r} is not in the key ring")

    def seal(self, report_id: str, content: bytes) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        ciphertext = _encrypt(data_key, content, report_id.encode())
        return Sealed(self.primary.id, self._wrap(self.primary, report_id, data_key), ciphertext)

    def open(self, report_id: str, sealed: Sealed) -> bytes:
        data_key = self._unwrap(report_id, sealed.key_id, sealed.wrapped_key)
        try:
            return _decrypt(data_key, sealed.ciphertext, report_id.encode())
        except (InvalidTag, ValueError):
            raise ContentUnreadable(f"the content of report {report_id} does not open") from None

    def rewrap(self, report_id: str, sealed: Sealed) -> Sealed:
        """The same ciphertext, its data key wrapped by the ring's first key."""
        data_key = self._unwrap(report_id, sealed.key_id, sealed.wrapped_key)
        return Sealed(
            self.primary.id, self._wrap(self.primary, report_id, data_key), sealed.ciphertext
        )

    def check_value(self, key_id: str) -> bytes:
        """A value only this key makes: stored once, so a wrong key with a known id shows."""
        return _encrypt(self.key(key_id).secret, _CHECK, b"check:" + key_id.encode())

    def matches(self, key_id: str, check_value: bytes) -> bool:
        try:
            opened = _decrypt(self.key(key_id).secret, check_value, b"check:" + key_id.encode())
        except (InvalidTag, ValueError):
            return False
        return opened == _CHECK

    def _wrap(self, key: ContentKey, report_id: str, data_key: bytes) -> bytes:
        return _encrypt(key.secret, data_key, _wrap_context(key.id, report_id))

    def _unwrap(self, report_id: str, key_id: str, wrapped_key: bytes) -> bytes:
        key = self.key(key_id)
        try:
            return _decrypt(key.secret, wrapped_key, _wrap_context(key_id, report_id))
        except (InvalidTag, ValueError):
            raise ContentUnreadable(
                f"content key {key_id!r} does not open the data key of report {report_id}"
            ) from None


def _wrap_context(key_id: str, report_id: str) -> bytes:
    return b"wrap:" + key_id.encode() + b":" + report_id.encode()


def _encrypt(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def _decrypt(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    if sealed[:1] != FORMAT or len(sealed) < 1 + NONCE_BYTES + 16:
        raise ValueError("not a sealed value of format 1")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    return AESGCM(key).decrypt(nonce, body, associated)


def parse_key_ring(text: str, *, source: str) -> KeyRing:
    """`id:base64key` entries, separated by commas or new lines; `#` starts a comment.

    Raises `KeyRingError` with one line that names `source` and the entry."""
    entries = [
        entry.strip()
        for line in text.splitlines()
        for entry in line.split("#", 1)[0].split(",")
        if entry.strip()
    ]
    if not entries:
        raise KeyRingError(f"{source} holds no key")
    return KeyRing(
        tuple(_parse_key(entry, position, source) for position, entry in enumerate(entries, 1))
    )


def _parse_key(entry: str, position: int, source: str) -> ContentKey:
    key_id, sep, encoded = entry.partition(":")
    key_id, encoded = key_id.strip(), encoded.strip()
    if not sep or not KEY_ID_PATTERN.match(key_id):
        raise KeyRingError(
            f"{source}: key {position} must look like id:base64key "
            "(id of letters, digits, . _ -; make one with `relay keys new`)"
        )
    try:
        standard = encoded.replace("-", "+").replace("_", "/")  # url-safe or standard alphabet
        secret = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"{source}: key {key_id!r} is not base64") from None
    if len(secret) != KEY_BYTES:
        raise KeyRingError(
            f"{source}: key {key_id!r} is {len(secret)} bytes; a content key is {KEY_BYTES}"
        )
    return ContentKey(key_id, secret)


def new_key_line(key_id: str) -> str:
    """A fresh key in the ring's notation."""
    if not KEY_ID_PATTERN.match(key_id):
        raise KeyRingError(f"key id {key_id!r}: use 1-32 letters, digits, . _ -")
    encoded = base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")
    return f"{key_id}:{encoded}"
