"""Password hashes for console accounts: scrypt from the standard library. Pure.

scrypt is memory-hard (each guess costs 32 MiB and about a quarter of a second of CPU
here), needs no dependency, and its parameters are stored with each hash, so they can be
raised later without invalidating the hashes already stored. The parameters are one of
OWASP's recommended scrypt settings (N=2^15, r=8, p=3).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N, R, P = 2**15, 8, 3
SALT_BYTES = 16
KEY_BYTES = 32
MAX_MEMORY = 64 * 1024 * 1024  # above 128 * N * R (32 MiB)
MIN_LENGTH = 12
MAX_LENGTH = 1024  # a longer one only costs hashing time


class PasswordError(ValueError):
    """A password that may not be set; the message says why, in one line."""


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"a password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n=…,r=…,p=…$salt$key`, both base64."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    key = _derive(password, salt, N, R, P)
    return f"{SCHEME}$n={N},r={R},p={P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; False for a malformed hash."""
    try:
        scheme, parameters, salt, key = stored.split("$")
        values = dict(part.split("=") for part in parameters.split(","))
        n, r, p = int(values["n"]), int(values["r"]), int(values["p"])
        expected = base64.b64decode(key, validate=True)
        derived = _derive(password[:MAX_LENGTH], base64.b64decode(salt, validate=True), n, r, p)
    except (ValueError, KeyError):
        return False
    return scheme == SCHEME and hmac.compare_digest(derived, expected)


def waste_time(password: str) -> None:
    """As long as a check of a real hash: a login for a name that does not exist must not
    answer faster than one for a name that does."""
    _derive(password[:MAX_LENGTH], b"\0" * SALT_BYTES, N, R, P)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=KEY_BYTES
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
