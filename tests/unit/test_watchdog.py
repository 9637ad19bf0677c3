"""The watchdog's decision: wedged only while heartbeats are being sent and none is taken."""

from __future__ import annotations

import pytest

from relay.watchdog import Watch, Wedged, check

BEAT, STALL = 5.0, 60.0


@pytest.mark.parametrize(
    ("case", "watch", "now", "last_received", "sent_ago", "expected_since", "wedged"),
    [
        ("never sent: cannot tell", Watch(), 1000, 0, None, None, False),
        ("sending stopped: cannot tell", Watch(100), 1000, 0, 16, None, False),
        ("sending resumed now: judged from now", Watch(), 1000, 0, 1, 1000, False),
        ("sending for long, took one lately", Watch(100), 1000, 990, 1, 100, False),
        ("sending for long, took none", Watch(100), 1000, 0, 1, 100, True),
        ("took one exactly at the limit", Watch(100), 1000, 940, 1, 100, False),
        ("just past the limit", Watch(100), 1000, 939, 1, 100, True),
        ("sending only 30 s: not yet", Watch(970), 1000, 0, 1, 970, False),
        ("last send 15 s ago still counts", Watch(100), 1000, 0, 15, 100, True),
    ],
)
def test_a_worker_is_wedged_only_when_heartbeats_go_untaken(
    case: str,
    watch: Watch,
    now: float,
    last_received: float,
    sent_ago: float | None,
    expected_since: float | None,
    wedged: bool,
) -> None:
    after, verdict = check(
        watch,
        now=now,
        last_received=last_received,
        heartbeats_sent_ago=sent_ago,
        heartbeat_seconds=BEAT,
        stall_seconds=STALL,
    )
    assert after == Watch(expected_since), case
    assert isinstance(verdict, Wedged) is wedged, case


def test_the_reason_says_how_long_and_how_often() -> None:
    _, verdict = check(
        Watch(0),
        now=200,
        last_received=0,
        heartbeats_sent_ago=2,
        heartbeat_seconds=5,
        stall_seconds=60,
    )
    assert verdict == Wedged(
        "took no message from the broker for 200 s while heartbeats were sent"
        " through its queues every 5 s"
    )
