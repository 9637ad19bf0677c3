"""When the portal says it sent a report: `sendingstidspunkt` as an instant.

The protocol's examples write it without a UTC offset (`2020-03-17T00:31:56`); Norwegian
local time is meant, so a value without an offset is read in Europe/Oslo. The document keeps
the original string; this instant is metadata (`reports.sendingstidspunkt`).

`format: date-time` is only an annotation in the schema, so a value that is not a date-time
is still a valid report: it is accepted and has no instant (None). In the hour that does not
exist in spring, and the hour that comes twice in autumn, the offset in force before the
change is used (`fold=0`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")
DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)


def sendingstidspunkt_instant(value: str) -> datetime | None:
    """The instant in UTC, or None when `value` is not an RFC 3339 date-time (offset optional)."""
    if not DATE_TIME.fullmatch(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=OSLO)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # 2020-02-30, 24:00, year 1 or 9999 near the edge
        return None
