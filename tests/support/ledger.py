"""The content key ring tests open the ledger with (a fixed key: for tests only)."""

from __future__ import annotations

from ledger.content_crypto import ContentKey, KeyRing

TEST_KEYS = KeyRing((ContentKey("test-1", bytes(range(32))),))
