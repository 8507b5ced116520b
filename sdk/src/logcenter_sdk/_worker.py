"""A bounded queue drained by one daemon thread: the host application never waits on the network."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable

log = logging.getLogger("logcenter_sdk")

Job = Callable[[], None]


class BackgroundWorker:
    """Runs submitted jobs in order on one thread; a full queue refuses new jobs instead of blocking."""

    def __init__(self, queue_size: int) -> None:
        self._queue_size = queue_size
        self._closed = False
        self._start_empty()
        # A forked child (gunicorn --preload, multiprocessing) inherits the queue and the counters but not
        # the thread, and a lock the thread held stays locked for ever: the child starts empty. The parent's
        # queued reports are the parent's to send.
        worker = weakref.ref(self)

        def in_child() -> None:
            if (alive := worker()) is not None:
                alive._start_empty()

        if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
            os.register_at_fork(after_in_child=in_child)

    def _start_empty(self) -> None:
        self._queue: queue.Queue[Job | None] = queue.Queue(self._queue_size)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # queued plus running; flush() waits for zero
        self._thread: threading.Thread | None = None

    def submit(self, job: Job) -> bool:
        """Queue a job; False (and the job is not run) when the queue is full or the worker is closed."""
        with self._lock:
            if self._closed:
                return False
            # Started lazily, and again if it died. Before the job is queued: at interpreter shutdown
            # Python 3.12+ refuses new threads, and a queued job that no thread runs would hold flush().
            if self._thread is None or not self._thread.is_alive():
                thread = threading.Thread(target=self._run, name="logcenter_sdk.worker", daemon=True)
                try:
                    thread.start()
                except RuntimeError:
                    return False
                self._thread = thread
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                return False
            self._pending += 1
            return True

    def flush(self, timeout: float) -> bool:
        """Wait until every queued job has run; False if that took longer than timeout seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float) -> int:
        """Flush for up to timeout, then stop the thread; returns how many queued jobs were discarded."""
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        discarded = 0
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
                discarded += 1
                self._pending -= 1
            self._idle.notify_all()
            if thread is not None:
                self._queue.put_nowait(None)  # the queue was just emptied, so there is room
        if thread is not None and thread is not threading.current_thread():
            # A request in flight ends within the transport's timeout; the thread is a daemon either way.
            thread.join(timeout=max(deadline - time.monotonic(), 0.1))
        return discarded

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a job must never take the worker down with it
                log.debug("logcenter_sdk: job failed", exc_info=True)
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()
