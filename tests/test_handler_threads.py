"""The hand-off itself: a job finishing just as its caller gives up is handed back
or passed to ``late``, exactly once; threads start on demand; ``join`` waits for
late callbacks."""

from __future__ import annotations

import functools
import threading
import time
import typing as t

import pytest

from flask_wechat.handler_threads import HandlerThreads, Job


class Outcomes:
    """Records what ``late`` was given."""

    def __init__(self) -> None:
        self.late: list[tuple[object, BaseException | None]] = []
        self.lock = threading.Lock()

    def __call__(self, result: object, error: BaseException | None) -> None:
        with self.lock:
            self.late.append((result, error))


class Interleaved:
    """A job's lock that runs ``between`` once: right after the handler thread
    releases it (``at="release"``), or right before the caller tries to take it
    without waiting (``at="try"``)."""

    def __init__(self, at: str, between: t.Callable[[], object]) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.at = at
        self.between: t.Callable[[], object] | None = between

    def _fire(self, at: str) -> None:
        if self.at == at and self.between is not None:
            between, self.between = self.between, None
            between()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not blocking:
            self._fire("try")
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        self.lock.release()
        self._fire("release")


def test_a_job_done_before_its_caller_gives_up_is_handed_back() -> None:
    late = Outcomes()
    job: Job[str] = Job(lambda: "done", late)
    job.run()
    assert job.wait(0)
    assert job.result == "done"
    assert late.late == []


def test_a_job_done_after_its_caller_gave_up_goes_to_late() -> None:
    late = Outcomes()
    job: Job[str] = Job(lambda: "done", late)
    assert not job.wait(0)
    job.run()
    assert late.late == [("done", None)]


def test_a_caller_giving_up_as_the_job_is_released_takes_the_outcome() -> None:
    late = Outcomes()
    job: Job[str] = Job(lambda: "done", late)
    waited: list[bool] = []
    job._done = Interleaved("release", lambda: waited.append(job.wait(0)))  # type: ignore[assignment]
    job.run()
    assert waited == [True]
    assert job.result == "done"
    assert late.late == []


def test_a_handler_finding_its_job_abandoned_first_calls_late() -> None:
    late = Outcomes()
    job: Job[str] = Job(lambda: "done", late)
    job._done = Interleaved("try", job.run)  # type: ignore[assignment]
    assert not job.wait(0)
    assert late.late == [("done", None)]


def test_an_error_goes_where_the_result_would() -> None:
    late = Outcomes()
    boom = ValueError("boom")

    def fail() -> str:
        raise boom

    handed: Job[str] = Job(fail, late)
    handed.run()
    assert handed.wait(0)
    assert handed.error is boom
    abandoned: Job[str] = Job(fail, late)
    assert not abandoned.wait(0)
    abandoned.run()
    assert late.late == [(None, boom)]


def test_jobs_finishing_as_callers_give_up_are_settled_exactly_once() -> None:
    threads = HandlerThreads(3)
    late = Outcomes()
    handed: list[int] = []
    handed_lock = threading.Lock()

    def call(first: int) -> None:
        for number in range(first, first + 300):
            job: Job[int] = Job(functools.partial(int, number), late)
            threads.submit(job)
            if job.wait((0, 1e-5, 1e-4, 1.0)[number % 4]):
                assert job.result == number
                with handed_lock:
                    handed.append(number)

    callers = [threading.Thread(target=call, args=(first,)) for first in range(0, 1200, 300)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert threads.join(10)
    late_numbers = [t.cast("int", result) for result, _ in late.late]
    assert sorted(handed + late_numbers) == list(range(1200))  # never both, never neither
    assert threads.threads <= 3


def test_threads_start_on_demand_then_jobs_queue() -> None:
    threads = HandlerThreads(2)
    assert threads.threads == 0
    release = threading.Event()
    late = Outcomes()
    jobs: list[Job[bool]] = [Job(lambda: release.wait(10), late) for _ in range(3)]
    for job in jobs:
        threads.submit(job)
    assert threads.threads == 2
    assert not jobs[2].wait(0.05)  # queued behind the two running
    release.set()
    assert jobs[0].wait(10)
    assert jobs[1].wait(10)
    assert threads.join(10)
    assert late.late == [(True, None)]
    quick: Job[str] = Job(lambda: "idle thread", late)
    threads.submit(quick)
    assert quick.wait(10)
    assert threads.threads == 2


def test_join_waits_for_the_late_callback() -> None:
    threads = HandlerThreads(1)
    started = threading.Event()

    def slow_late(result: object, error: BaseException | None) -> None:
        started.set()
        time.sleep(0.2)
        slow_late.done = True  # type: ignore[attr-defined]

    job: Job[None] = Job(lambda: None, slow_late)
    assert not job.wait(0)  # abandoned before it runs: its outcome goes to late
    threads.submit(job)
    assert started.wait(10)
    assert not threads.join(0.01)
    assert threads.join(10)
    assert slow_late.done  # type: ignore[attr-defined]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_ended_by_its_late_callback_is_replaced() -> None:
    threads = HandlerThreads(1)
    ended: list[threading.Thread] = []

    def fatal(result: object, error: BaseException | None) -> None:
        ended.append(threading.current_thread())
        raise SystemExit  # ends the thread

    doomed: Job[None] = Job(lambda: None, fatal)
    assert not doomed.wait(0)
    threads.submit(doomed)
    assert threads.join(10)
    ended[0].join(10)
    assert threads.threads == 0
    job: Job[str] = Job(lambda: "a new thread", Outcomes())
    threads.submit(job)
    assert job.wait(10)
    assert job.result == "a new thread"
    assert threads.threads == 1


def test_max_threads_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        HandlerThreads(0)
