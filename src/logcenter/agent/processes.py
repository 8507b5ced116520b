"""Running a child (fixer, tests) with a wall-clock limit that kills its whole process group, and a cancel
flag (SIGTERM of the agent, a lost lease) checked while it runs."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TAIL = 8_000


@dataclass(frozen=True)
class Finished:
    returncode: int | None  # None when killed
    stdout: str
    stderr: str
    timed_out: bool
    cancelled: bool
    seconds: float

    def tail(self, limit: int = TAIL) -> str:
        text = (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()
        return text if len(text) <= limit else "[...]\n" + text[-limit:]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(5)
            return
        except subprocess.TimeoutExpired:
            continue


def run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    stdin: str | None = None,
    cancel: threading.Event | None = None,
) -> Finished:
    """Run `argv` in its own session; output goes to temporary files (no pipe can fill up and stall it)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
        if stdin is not None:
            inp.write(stdin.encode())
            inp.seek(0)
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=inp, stdout=out, stderr=err, start_new_session=True
        )
        timed_out = cancelled = False
        while True:
            try:
                proc.wait(0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - start > timeout:
                timed_out = True
            elif cancel is not None and cancel.is_set():
                cancelled = True
            if timed_out or cancelled:
                _kill(proc)
                break
        # Children the program left behind in its group go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        out.seek(0)
        err.seek(0)
        return Finished(
            returncode=None if (timed_out or cancelled) else proc.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            timed_out=timed_out,
            cancelled=cancelled,
            seconds=time.monotonic() - start,
        )
