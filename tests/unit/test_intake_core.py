"""Intake's core stands alone: parsing, validation and the service need no web framework
and no database library (the API maps their errors; the ledger hides its driver)."""

from __future__ import annotations

import subprocess
import sys


def test_the_intake_core_imports_neither_fastapi_nor_sqlalchemy() -> None:
    probe = (
        "import sys, intake.service, intake.validation; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'sqlalchemy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
