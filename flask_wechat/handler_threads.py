"""Threads that run handlers, so that a callback answers by its deadline.

WeChat waits 5 seconds for a callback's answer, then drops the connection and
retries. A handler that calls an LLM or a slow database must not hold the answer:
the callback hands the handler to one of these threads and waits for it only
until ``WECHAT_REPLY_DEADLINE``. A handler done in time gives the passive reply;
one still running then is *abandoned* by the callback (which answers ``success``)
and, when it finishes, its thread sends the reply through the API instead.

The hand-off is a :class:`queue.SimpleQueue` feeding threads started on demand
(up to ``max_threads``, then jobs queue) and a lock per job that the callback
waits on: about half what a ``ThreadPoolExecutor`` future costs. The same lock
settles a job finishing just as its callback gives up (see :class:`Job`), and
the pool's counts (threads, idle threads, unfinished jobs) share one lock: one
round trip on it to submit, one when a job is done. Under gevent all of it is
green. Threads are not inherited by a forked worker: each process starts its own
on its first job.

Most of a hand-off's time is not spent here but in the operating system: waking a
thread that sleeps on another CPU, twice per job. On a 2-core virtual machine whose
other core is idle, a round trip takes about 80 µs; with both threads on one CPU,
as on a busy machine, about 10 µs.
"""

from __future__ import annotations

import os
import queue
import threading
import typing as t
import weakref

T = t.TypeVar("T")


class Job(t.Generic[T]):
    """One handler run: ``work`` on a handler thread; ``late`` instead of
    handing the outcome back when the caller stopped waiting.

    The job's lock, held from the start, is both the signal and the referee. The
    handler thread stores the outcome and releases the lock, once. A caller that
    stops waiting marks the job abandoned, then tries to take the lock without
    waiting; a handler thread that, after releasing, finds the job abandoned tries
    the same. Only one of them can get a lock released once: the caller (the
    outcome is handed back) or the handler thread (the outcome goes to ``late``).
    A handler thread that finds the job not abandoned leaves the lock to the
    caller, who marks the job only after that and so gets it."""

    __slots__ = ("_done", "abandoned", "error", "late", "result", "work")

    def __init__(
        self,
        work: t.Callable[[], T],
        late: t.Callable[[T | None, BaseException | None], None],
    ) -> None:
        self.work = work
        self.late = late
        self.result: T | None = None
        self.error: BaseException | None = None
        self.abandoned = False
        self._done = threading.Lock()
        self._done.acquire()

    def run(self) -> None:
        """On a handler thread: do the work, then hand its outcome over or, when
        the caller gave up, pass it to ``late``."""
        result: T | None = None
        error: BaseException | None = None
        try:
            result = self.work()
        except BaseException as exc:  # handed to the caller, or to late
            error = exc
        self.result, self.error = result, error
        done = self._done
        done.release()
        if self.abandoned and done.acquire(blocking=False):
            self.late(result, error)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; whether the work finished. When it did
        not, the job is abandoned: its outcome goes to ``late``."""
        if timeout > 0 and self._done.acquire(timeout=timeout):
            return True
        self.abandoned = True
        return self._done.acquire(blocking=False)


class HandlerThreads:
    """Up to ``max_threads`` threads running :class:`Job`\\ s; started on demand."""

    def __init__(self, max_threads: int) -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = max_threads
        self._jobs: queue.SimpleQueue[Job[t.Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._unfinished = 0
        self._all_done = threading.Condition(self._lock)
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_threads(ref))

    @property
    def threads(self) -> int:
        """How many threads this process started (less any that a raising
        ``late`` ended)."""
        return self._threads

    def submit(self, job: Job[t.Any]) -> None:
        """Queue ``job``; a thread is started when none is idle and fewer than
        ``max_threads`` run."""
        with self._lock:
            self._unfinished += 1
            if self._idle:
                self._idle -= 1
                grow = False
            else:
                grow = self._threads < self.max_threads
                if grow:
                    self._threads += 1
            number = self._threads
        if grow:
            threading.Thread(
                target=self._serve, name=f"flask_wechat-handler-{number}", daemon=True
            ).start()
        self._jobs.put(job)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job ran (and any late reply went out);
        whether they all did within ``timeout`` seconds."""
        with self._all_done:
            return self._all_done.wait_for(lambda: not self._unfinished, timeout)

    def after_fork(self) -> None:
        """In a forked child: none of the parent's threads or jobs are here."""
        self._jobs = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._unfinished = 0
        self._all_done = threading.Condition(self._lock)

    def _serve(self) -> None:
        jobs, lock = self._jobs, self._lock
        while True:
            ran = False
            try:
                jobs.get().run()
                ran = True
            finally:
                with lock:
                    if ran:
                        self._idle += 1
                    else:  # late raised: this thread ends, another may start
                        self._threads -= 1
                    self._unfinished -= 1
                    if not self._unfinished:
                        self._all_done.notify_all()


def _forget_threads(ref: weakref.ref[HandlerThreads]) -> None:
    threads = ref()
    if threads is not None:
        threads.after_fork()
