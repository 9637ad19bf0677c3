"""Releasing a recipient's waiting reports by its free capacity.

A recipient's backlog waits in the ledger (RETRY_SCHEDULED), not in the broker's queue, so
one recipient's backlog never stands in front of another's reports. A report is released
(ROUTED, onto its vendor's queue) only when its recipient can take it: the breaker admits
it and fewer than `max_concurrent` of its reports are on their way. Released oldest first.

`release_waiting` runs inside the caller's transaction, so that the slot an attempt frees
is filled in the same transaction that records the attempt's outcome (`deliverers.stage`),
and the breaker's half-opening releases its probe in the transaction that half-opens it
(`deliverers.liveness`). The scheduler's tick (`deliverers.scheduled`) is the fallback.

Locks: the chosen reports, skipping any another transaction holds; the recipient's health row
first when the caller has not read it. A settlement that only moved the time of a closed
breaker's last success read it without the lock (`deliverers.outcomes.apply_outcome`), so
one recipient's settlements need not take turns; two at once may then both count a slot
that was already free and release one report more than the room. The claim, which locks the
row and counts those in flight, keeps `max_concurrent` exact and parks such a report again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from deliverers.breaker import Admit, admit, free_slots
from deliverers.control import DeliveryControl
from ledger.lifecycle import State
from ledger.queries import RoutingRoom, SealedRow
from ledger.records import Move, RecipientHealth, Report, StateKind
from ledger.topology import deliver_dispatch
from ledger.uow import UnitOfWork

ON_THEIR_WAY = (State.ROUTED, State.DELIVERING)
# A settled attempt releases up to `max_concurrent` in flight and as many again queued
# behind them: a slot that frees takes the next report from the queue at once, not after
# the release's publish. The claim still lets no more than `max_concurrent` be delivering
# (one that finds them all busy waits in the ledger again), and another recipient's reports
# find at most this many of this recipient's ahead of them. The tick and the breaker's
# check release only into free slots: they run whether or not anything settled, and would
# otherwise keep releasing a report for a recipient at its limit that the claim parks again.
QUEUED_AHEAD_FACTOR = 2


class Kept(NamedTuple):
    """A report released for the caller to claim itself (`take_and_release`)."""

    report: Report  # locked, still waiting
    release: Move  # to ROUTED, to record with the claim
    sealed: SealedRow  # its content as stored, read with it


def wait_at_routing(
    breaker_set: bool, on_their_way: int, waiting_ahead: bool, max_concurrent: int
) -> str | None:
    """Why a report just routed should wait in the ledger instead of going onto its
    vendor's queue, or None: it goes. Pure.

    It waits while its recipient's breaker has an open time set (open, or half-open: the
    release picks the probe, oldest first), while older reports of the recipient wait ready
    (they go first), or while the recipient has as many reports on their way as a
    settlement would release (QUEUED_AHEAD_FACTOR x `max_concurrent`). So a burst for one
    recipient lines up in the ledger, and another recipient's reports find at most that
    many of its reports ahead of them on the vendor's queue.
    """
    if breaker_set:
        return "its breaker is open"
    if waiting_ahead:
        return "older reports for its recipient wait"
    room = max_concurrent * QUEUED_AHEAD_FACTOR
    if on_their_way >= room:
        return f"{on_their_way} reports for its recipient on their way (room {room})"
    return None


def room_at_routing(
    uow: UnitOfWork, recipient: str, control: DeliveryControl, now: datetime
) -> str | None:
    """`wait_at_routing` from the ledger, in one round trip and without locks: the count
    may be a few off under concurrent routing, which only moves where a report waits (the
    claim keeps the limit exact); a report parked just as its recipient's last one settled
    is released by the scheduler's tick."""
    room = uow.queries.routing_room(recipient, now, on_their_way=ON_THEIR_WAY)
    return wait_at_routing(
        room.breaker_set, room.on_their_way, room.waiting_ahead, control.max_concurrent
    )


class RoomsAtRouting:
    """`room_at_routing` for the reports one transaction routes (`router.stage.
    route_received_in_turn`, a burst routed along): the ledger is asked once per recipient,
    and each report routed after it is counted here (one more on its way, or one more
    waiting ahead), as the ledger would count it within the transaction. One per
    transaction."""

    def __init__(self, control_for: Callable[[str], DeliveryControl]) -> None:
        self._control_for = control_for
        self._rooms: dict[str, RoutingRoom] = {}

    def __call__(self, uow: UnitOfWork, recipient: str, now: datetime) -> str | None:
        room = self._rooms.get(recipient)
        if room is None:
            room = uow.queries.routing_room(recipient, now, on_their_way=ON_THEIR_WAY)
        max_concurrent = self._control_for(recipient).max_concurrent
        wait = wait_at_routing(
            room.breaker_set, room.on_their_way, room.waiting_ahead, max_concurrent
        )
        if wait is None:
            self._rooms[recipient] = room._replace(on_their_way=room.on_their_way + 1)
        else:
            self._rooms[recipient] = room._replace(waiting_ahead=True)
        return wait


def ready(report: Report, now: datetime) -> bool:
    """May this report be released once its recipient has room? A report that waited for
    its recipient (breaker or slots, no attempt spent) is ready whenever the recipient is;
    one that failed an attempt keeps its backoff (and any `Retry-After`)."""
    return (
        report.state is State.RETRY_SCHEDULED
        and report.recipient is not None
        and report.vendor is not None
        and (
            report.state_kind == StateKind.WAITING
            or (report.next_attempt_at is not None and report.next_attempt_at <= now)
        )
    )


def release_waiting(
    uow: UnitOfWork,
    recipient: str,
    control: DeliveryControl,
    now: datetime,
    *,
    actor: str,
    health: RecipientHealth | None = None,
    queued_ahead: bool = False,
) -> int:
    """Release as many of `recipient`'s ready reports as it has room for, oldest first, in
    the caller's transaction; returns how many. `health`: the recipient's health row as the
    caller locked (and maybe changed) it in this transaction; read and locked here if not
    given. `queued_ahead`: room for QUEUED_AHEAD_FACTOR x `max_concurrent` (a settlement),
    else for `max_concurrent`."""
    released, _ = _release(uow, recipient, control, now, actor, health, queued_ahead)
    return released


def take_and_release(
    uow: UnitOfWork,
    recipient: str,
    control: DeliveryControl,
    now: datetime,
    *,
    actor: str,
    health: RecipientHealth,
    others_since: datetime | None,
) -> Kept | None:
    """As `release_waiting` after a settlement, except that the oldest report released is
    not put on its vendor's queue but returned, locked and still waiting, with the move that
    releases it (to ROUTED, no message) and its content as stored, for the caller to record
    with its claim in one statement and deliver itself: a worker whose delivery succeeded
    goes on with its recipient's backlog without a message and a task for each report. None
    if no report is ready, if the first one would be the breaker's probe, or if another
    report has waited for a worker since `others_since` (`ReportQueries.others_waiting`,
    asked in the same statement), or if `others_since` is None: then all go onto the queue,
    as `release_waiting` with `queued_ahead` sends them."""
    _, kept = _release(
        uow, recipient, control, now, actor, health, queued_ahead=True, keep=others_since
    )
    return kept


def _release(
    uow: UnitOfWork,
    recipient: str,
    control: DeliveryControl,
    now: datetime,
    actor: str,
    health: RecipientHealth | None,
    queued_ahead: bool,
    *,
    keep: datetime | None = None,
) -> tuple[int, Kept | None]:
    """Release into the recipient's free room, oldest first; with `keep`, the first
    released (unless it is a probe, or another report has waited for a worker since `keep`)
    is returned with its release, not recorded."""
    if health is None:
        health = uow.health.get(recipient, lock=True)
    if health.open_until is not None and now < health.open_until:
        return 0, None  # open: nothing to count
    room = control.max_concurrent * (QUEUED_AHEAD_FACTOR if queued_ahead else 1)
    # The candidates and the count of those on their way in one round trip; none ready
    # (the usual case) is an empty answer.
    busy, candidates, others_waiting, contents = uow.queries.ready_to_release(
        recipient, now, on_their_way=ON_THEIR_WAY, limit=room, others_since=keep
    )
    slots = free_slots(health, control.breaker, room, busy, now)
    keeping = keep is not None and not others_waiting
    released = 0
    kept: Kept | None = None
    for number, report in enumerate(candidates[: max(slots, 0)]):
        if not ready(report, now):
            continue
        assert report.vendor is not None
        decision = admit(health, control.breaker, report.id, now)
        if not isinstance(decision, Admit):
            break
        if decision.probe:
            health = decision.health
            uow.health.save(health)
        if decision.probe:
            reason = "probe: is the recipient back?"
        elif report.state_kind == StateKind.WAITING:
            reason = "released: its recipient has room"
        else:
            reason = "retry due"
        release = Move(State.ROUTED, reason, changes={"next_attempt_at": None})
        if keeping and released == 0 and not decision.probe:
            kept = Kept(report, release, contents[number])
        else:
            dispatch = deliver_dispatch(report.vendor)
            uow.reports.move_through(report, (release,), at=now, actor=actor, dispatch=dispatch)
        released += 1
    return released, kept
