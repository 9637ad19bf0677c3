"""A job marked `on_wake` runs as soon as the scheduler's wake event is set, long before its
interval; the others keep theirs; a stop ends the loop."""

from __future__ import annotations

import threading

from relay.scheduler import Periodic, Scheduler

LONG = 60.0  # an interval no test waits for
PROMPT = 5.0


def test_wake_runs_the_woken_job_at_once_and_leaves_the_others() -> None:
    woken_runs: list[int] = []
    other_runs: list[int] = []
    ran = threading.Event()

    def woken_job() -> int:
        woken_runs.append(1)
        ran.set()
        return 0

    def other_job() -> int:
        other_runs.append(1)
        return 0

    scheduler = Scheduler(
        [Periodic("woken", LONG, woken_job, on_wake=True), Periodic("other", LONG, other_job)]
    )
    thread = threading.Thread(target=scheduler.run_forever, daemon=True)
    thread.start()
    assert ran.wait(PROMPT)  # every job runs once at start
    ran.clear()
    scheduler.wake.set()
    assert ran.wait(PROMPT), "the woken job ran long before its interval"
    scheduler.stop.set()
    scheduler.wake.set()
    thread.join(PROMPT)
    assert not thread.is_alive()
    assert (len(woken_runs), len(other_runs)) == (2, 1)


def test_a_wake_during_a_run_is_not_lost() -> None:
    runs: list[int] = []
    second = threading.Event()
    scheduler: Scheduler

    def job() -> int:
        runs.append(1)
        if len(runs) == 2:  # the start-up run, then the one this wake asked for
            scheduler.wake.set()  # a row committed while this run was reading
        if len(runs) == 3:
            second.set()
        return 0

    scheduler = Scheduler([Periodic("outbox", LONG, job, on_wake=True)])
    thread = threading.Thread(target=scheduler.run_forever, daemon=True)
    thread.start()
    scheduler.wake.set()
    assert second.wait(PROMPT)
    scheduler.stop.set()
    scheduler.wake.set()
    thread.join(PROMPT)
    assert len(runs) >= 3
