"""The auto-merge check, a periodic job (every LOGCENTER_AUTOMERGE_CHECK_SECONDS)."""

from __future__ import annotations

from typing import Any

from logcenter.automerge import service
from logcenter.jobs.registry import JobContext, every, handler

CHECK = "automerge.check"

every(lambda settings: settings.automerge_check_seconds, CHECK)


@handler(CHECK, max_attempts=1)  # periodic: the next round looks again
def check(ctx: JobContext, payload: dict[str, Any]) -> None:
    service.run(ctx.sessions, ctx.settings)
