"""The content sealing core: envelope encryption with a key ring, and reading key rings."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from ledger.content_crypto import (
    ContentKey,
    ContentUnreadable,
    KeyRing,
    KeyRingError,
    new_key_line,
    parse_key_ring,
)

K1 = ContentKey("k1", bytes(range(32)))
K2 = ContentKey("k2", bytes(range(32, 64)))
DOCUMENT = '{"melding": "Kanarifugl Ærlig-Øyvår"}'.encode()


def test_sealed_content_opens_to_what_went_in_and_shows_none_of_it() -> None:
    ring = KeyRing((K1,))
    sealed = ring.seal("r1", DOCUMENT)
    assert sealed.key_id == "k1"
    assert b"Kanarifugl" not in sealed.ciphertext + sealed.wrapped_key
    assert ring.open("r1", sealed) == DOCUMENT


def test_each_report_gets_its_own_data_key_and_nonce() -> None:
    ring = KeyRing((K1,))
    first, second = ring.seal("r1", DOCUMENT), ring.seal("r1", DOCUMENT)
    assert first.ciphertext != second.ciphertext
    assert first.wrapped_key != second.wrapped_key


def test_the_first_key_seals_and_every_key_opens() -> None:
    old, new = KeyRing((K1,)), KeyRing((K2, K1))
    under_old = old.seal("r1", DOCUMENT)
    assert new.open("r1", under_old) == DOCUMENT
    assert new.seal("r2", DOCUMENT).key_id == "k2"


def test_rewrapping_changes_only_the_wrapped_key() -> None:
    under_old = KeyRing((K1,)).seal("r1", DOCUMENT)
    rewrapped = KeyRing((K2, K1)).rewrap("r1", under_old)
    assert rewrapped.key_id == "k2"
    assert rewrapped.ciphertext == under_old.ciphertext
    assert KeyRing((K2,)).open("r1", rewrapped) == DOCUMENT


SEALED = KeyRing((K1,)).seal("r1", DOCUMENT)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("ring", "report_id", "sealed", "message"),
    [
        (KeyRing((K2,)), "r1", SEALED, "'k1' is not in the key ring"),
        (KeyRing((ContentKey("k1", bytes(32)),)), "r1", SEALED, "does not open the data key"),
        (KeyRing((K1,)), "r2", SEALED, "does not open the data key of report r2"),
        (KeyRing((K1,)), "r1", replace(SEALED, ciphertext=_flip(SEALED.ciphertext, 20)), "r1"),
        (KeyRing((K1,)), "r1", replace(SEALED, wrapped_key=_flip(SEALED.wrapped_key, 20)), "r1"),
        (KeyRing((K1, K2)), "r1", replace(SEALED, key_id="k2"), "'k2' does not open"),
        (KeyRing((K1,)), "r1", replace(SEALED, ciphertext=b"\x02" + SEALED.ciphertext[1:]), "r1"),
        (KeyRing((K1,)), "r1", replace(SEALED, ciphertext=SEALED.ciphertext[:20]), "r1"),
    ],
    ids=[
        "key not in ring",
        "wrong key with the same id",
        "moved to another report",
        "ciphertext altered",
        "wrapped key altered",
        "key id altered",
        "unknown format",
        "truncated",
    ],
)
def test_content_that_cannot_be_opened_says_why_without_content(
    ring: KeyRing, report_id: str, sealed: object, message: str
) -> None:
    with pytest.raises(ContentUnreadable, match=message) as raised:
        ring.open(report_id, sealed)  # type: ignore[arg-type]
    assert "Kanarifugl" not in str(raised.value)


def test_a_check_value_shows_a_wrong_key_with_a_known_id() -> None:
    value = KeyRing((K1,)).check_value("k1")
    assert KeyRing((K1,)).matches("k1", value)
    assert not KeyRing((ContentKey("k1", bytes(32)),)).matches("k1", value)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        (f"k1:{b64(K1.secret)}", ("k1",)),
        (f"k2:{b64(K2.secret)}, k1:{b64(K1.secret)}", ("k2", "k1")),
        (f"# the ring\nk2:{b64(K2.secret)}\n\nk1:{b64(K1.secret)}  # old\n", ("k2", "k1")),
        (new_key_line("2026-11.a_b"), ("2026-11.a_b",)),  # url-safe, unpadded
    ],
)
def test_a_key_ring_is_read_in_order(text: str, ids: tuple[str, ...]) -> None:
    assert parse_key_ring(text, source="RELAY_CONTENT_KEYS").ids == ids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "RELAY_CONTENT_KEYS holds no key"),
        ("# nothing\n", "holds no key"),
        (b64(K1.secret), "key 1 must look like id:base64key"),
        (f"k 1:{b64(K1.secret)}", "key 1 must look like id:base64key"),
        ("k1:not base64!", "key 'k1' is not base64"),
        (f"k1:{b64(bytes(16))}", "key 'k1' is 16 bytes; a content key is 32"),
        (f"k1:{b64(K1.secret)},k1:{b64(K2.secret)}", "a key id is used twice"),
    ],
)
def test_a_bad_key_ring_is_refused_in_one_line_without_key_bytes(text: str, message: str) -> None:
    with pytest.raises(KeyRingError, match=message) as raised:
        parse_key_ring(text, source="RELAY_CONTENT_KEYS")
    assert "\n" not in str(raised.value)
    assert b64(K1.secret) not in str(raised.value)


def test_a_key_never_shows_its_bytes() -> None:
    assert repr(K1) == "ContentKey('k1')"
    assert b64(K1.secret) not in repr(KeyRing((K1,)))
