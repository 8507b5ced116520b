"""Per-project event quota: fixed one-minute windows counted in process memory.

Each HTTP worker process counts on its own (`serve --workers N`, and every replica behind a load balancer), so
a project gets up to that many times the quota; that is the price of keeping the hot path free of shared
state. Only authenticated requests that carry an event are counted, so the set of counters is bounded by the
number of projects.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

WINDOW_SECONDS = 60


class ProjectQuota:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.time) -> None:
        self._per_minute = per_minute  # 0: no quota
        self._clock = clock
        self._windows: dict[int, tuple[int, int]] = {}  # project pk → (window number, events in it)

    def hit(self, project_pk: int) -> int | None:
        """Count one event; when over quota, the seconds until the window ends (for Retry-After)."""
        if self._per_minute <= 0:
            return None
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        current, count = self._windows.get(project_pk, (window, 0))
        if current != window:
            count = 0
        if count >= self._per_minute:
            return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        self._windows[project_pk] = (window, count + 1)
        return None
