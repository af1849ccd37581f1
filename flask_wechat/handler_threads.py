"""Threads that run handlers, so that a callback answers by its deadline.

WeChat waits 5 seconds for a callback's answer, then drops the connection and
retries. A handler that calls an LLM or a slow database must not hold the answer:
the callback hands the handler to one of these threads and waits for it only
until ``WECHAT_REPLY_DEADLINE``. A handler done in time gives the passive reply;
one still running then is *abandoned* by the callback (which answers ``success``)
and, when it finishes, its thread sends the reply through the API instead.

The hand-off is a :class:`queue.SimpleQueue` feeding threads started on demand
(up to ``max_threads``, then jobs queue) and a lock per job that the callback
waits on: about half what a ``ThreadPoolExecutor`` future costs. Under gevent
both are green. Threads are not inherited by a forked worker: each process
starts its own on its first job.
"""

from __future__ import annotations

import os
import queue
import threading
import typing as t
import weakref

#: Guards the moment a job finishes against the moment its caller gives up on it.
_settle = threading.Lock()

T = t.TypeVar("T")


class Job(t.Generic[T]):
    """One handler run: ``work`` on a handler thread; ``late`` instead of
    handing the outcome back when the caller stopped waiting."""

    __slots__ = ("_done", "abandoned", "error", "finished", "late", "result", "work")

    def __init__(
        self,
        work: t.Callable[[], T],
        late: t.Callable[[T | None, BaseException | None], None],
    ) -> None:
        self.work = work
        self.late = late
        self.result: T | None = None
        self.error: BaseException | None = None
        self.finished = False
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
        with _settle:
            self.result, self.error, self.finished = result, error, True
            abandoned = self.abandoned
        if abandoned:
            self.late(result, error)
        else:
            self._done.release()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; whether the work finished. When it did
        not, the job is abandoned: its outcome goes to ``late``."""
        if timeout > 0 and self._done.acquire(timeout=timeout):
            return True
        with _settle:
            if self.finished:
                return True
            self.abandoned = True
        return False


class HandlerThreads:
    """Up to ``max_threads`` threads running :class:`Job`\\ s; started on demand."""

    def __init__(self, max_threads: int) -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self.max_threads = max_threads
        self._jobs: queue.SimpleQueue[Job[t.Any]] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._unfinished = 0
        self._all_done = threading.Condition(self._lock)
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_threads(ref))

    @property
    def threads(self) -> int:
        """How many threads this process started."""
        return self._threads

    def submit(self, job: Job[t.Any]) -> None:
        """Queue ``job``; a thread is started when none is idle and fewer than
        ``max_threads`` run."""
        with self._lock:
            self._unfinished += 1
        if not self._idle.acquire(blocking=False):
            self._grow()
        self._jobs.put(job)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job ran (and any late reply went out);
        whether they all did within ``timeout`` seconds."""
        with self._all_done:
            return self._all_done.wait_for(lambda: not self._unfinished, timeout)

    def _grow(self) -> None:
        with self._lock:
            if self._threads >= self.max_threads:
                return
            self._threads += 1
            number = self._threads
        threading.Thread(
            target=self._serve, name=f"flask_wechat-handler-{number}", daemon=True
        ).start()

    def after_fork(self) -> None:
        """In a forked child: none of the parent's threads or jobs are here."""
        self._jobs = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._unfinished = 0
        self._all_done = threading.Condition(self._lock)

    def _serve(self) -> None:
        jobs, idle, lock = self._jobs, self._idle, self._lock
        while True:
            try:
                jobs.get().run()
            finally:
                with lock:
                    self._unfinished -= 1
                    if not self._unfinished:
                        self._all_done.notify_all()
            idle.release()


def _forget_threads(ref: weakref.ref[HandlerThreads]) -> None:
    threads = ref()
    if threads is not None:
        threads.after_fork()
