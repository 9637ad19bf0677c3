"""Reference data copied into the project must stay byte-for-byte what its provenance says."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROVENANCE_FILES = sorted(ROOT.glob("*/**/PROVENANCE.md"))
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|.*\|\s*`([0-9a-f]{64})`\s*\|$")


def hashed_rows(provenance: Path) -> list[tuple[Path, str]]:
    rows = []
    for line in provenance.read_text("utf-8").splitlines():
        match = ROW.match(line.strip())
        if match:
            rows.append((provenance.parent / match.group(1), match.group(2)))
    return rows


def test_there_is_reference_data_with_provenance() -> None:
    assert PROVENANCE_FILES
    assert all(hashed_rows(path) for path in PROVENANCE_FILES)


@pytest.mark.parametrize("provenance", PROVENANCE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_copied_files_match_their_recorded_hashes(provenance: Path) -> None:
    for path, expected in hashed_rows(provenance):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == expected, path
