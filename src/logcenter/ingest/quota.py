"""Per-project event quota: fixed one-minute windows counted in process memory.

Counted where reports are stored (`service.store_batch`), in the one writer process of a `logcenter serve`,
so `--workers N` does not multiply it; replicas each have their own writer (up to replicas × quota: the price
of no shared state on the hot path). Only Sentry events are counted. An HTTP worker remembers the writer's
"over quota" answers (`QuotaVerdicts`) and refuses the project's next events itself until the window ends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from logcenter.errors import RateLimited

WINDOW_SECONDS = 60


class ProjectQuota:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute  # 0: no quota
        self._clock = clock
        self._windows: dict[int, tuple[int, int]] = {}  # project pk → (window number, events in it)

    def hit(self, project_pk: int) -> int | None:
        """Count one event; when over quota, the seconds until the window ends (for Retry-After)."""
        if self.per_minute <= 0:
            return None
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        current, count = self._windows.get(project_pk, (window, 0))
        if current != window:
            count = 0
        if count >= self.per_minute:
            return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        self._windows[project_pk] = (window, count + 1)
        return None

    def saved(self) -> dict[int, tuple[int, int]]:
        """The counters as they are, to `restore` if the transaction that counted events fails."""
        return dict(self._windows) if self.per_minute else self._windows

    def restore(self, saved: dict[int, tuple[int, int]]) -> None:
        self._windows = saved


def over_quota(project_slug: str, retry_after: int) -> RateLimited:
    """The 429 for an event over its project's quota."""
    return RateLimited(
        f"Project {project_slug!r} is over its quota of events per minute",
        # Empty categories: the SDK pauses everything for this project, which is what the quota means.
        headers={"Retry-After": str(retry_after), "X-Sentry-Rate-Limits": f"{retry_after}::project"},
    )


class QuotaVerdicts:
    """Projects the writer said are over their quota, until when (an HTTP worker's memory of its answers)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._until: dict[int, float] = {}

    def retry_after(self, project_pk: int) -> int | None:
        """Seconds until the project may send again; None if the writer has not refused it lately."""
        until = self._until.get(project_pk)
        if until is None:
            return None
        left = math.ceil(until - self._clock())
        if left <= 0:
            del self._until[project_pk]
            return None
        return left

    def refused(self, project_pk: int, answer: RateLimited) -> None:
        self._until[project_pk] = self._clock() + int(answer.headers.get("Retry-After", "1"))
