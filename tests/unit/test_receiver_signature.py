"""The receiver example's signature check (docs/examples/receiver.py, which municipalities
copy) accepts exactly what the relay's rest-json deliverer signs: one signature, or two
while a secret is rotated, and nothing made with another secret."""

from __future__ import annotations

from deliverers.rest_json import signature_header
from docs.examples.receiver import signature_accepted

BODY = '{"id":"r1","bekymringsmelding":{"melding":"æøå"}}'.encode()
NEW, OLD, OTHER = "new-" + "n" * 32, "old-" + "o" * 32, "other-" + "x" * 32


def test_one_signature_from_the_relay_is_accepted() -> None:
    header = signature_header([NEW], "1700000000", BODY)
    assert signature_accepted(header, "1700000000", BODY, [NEW])
    assert signature_accepted(header, "1700000000", BODY, [OLD, NEW])


def test_during_a_rotation_either_secret_held_is_enough() -> None:
    header = signature_header([NEW, OLD], "1700000000", BODY)
    assert "," in header
    assert signature_accepted(header, "1700000000", BODY, [NEW])
    assert signature_accepted(header, "1700000000", BODY, [OLD])


def test_anything_else_is_refused() -> None:
    header = signature_header([NEW], "1700000000", BODY)
    assert not signature_accepted(header, "1700000000", BODY, [OTHER])
    assert not signature_accepted(header, "1700000001", BODY, [NEW])  # another timestamp
    assert not signature_accepted(header, "1700000000", BODY + b" ", [NEW])  # other bytes
    assert not signature_accepted("", "1700000000", BODY, [NEW])
    bare = header.removeprefix("v1=")
    assert not signature_accepted(bare, "1700000000", BODY, [NEW]), "only v1= signatures count"
    assert signature_accepted(f"v2=abc, {header}", "1700000000", BODY, [NEW])
