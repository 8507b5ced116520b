"""The agent's main loop: claim NEW bugs while there is room, fix them on worker threads, keep their leases
alive with heartbeats, and on SIGTERM stop claiming, give back what it holds and exit."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import FrameType

from logcenter.agent.client import ApiError, Client
from logcenter.agent.job import Job, Outcome
from logcenter.agent.options import AgentSettings
from logcenter.agent.progress import Progress
from logcenter.agent.repair import Repairer
from logcenter.repair.schemas import ClaimedBug

EXIT_OK = 0
EXIT_CONFIG = 2


class Runner:
    def __init__(self, settings: AgentSettings, *, progress: Progress | None = None) -> None:
        self.settings = settings
        self.progress = progress or Progress(as_json=settings.json_output)
        token = settings.token.get_secret_value() if settings.token else None
        self.client = Client(settings.server, token)
        self.repairer = Repairer(settings, self.client, self.progress)
        self.stopping = threading.Event()
        self.jobs: dict[int, Job] = {}
        self._jobs_lock = threading.Lock()
        self.outcomes: list[Outcome] = []

    # --------------------------------------------------------------------------------------- signals
    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.progress.emit(
            "stopping", message=f"{signal.Signals(signum).name}: no more claims, giving back held bugs"
        )
        with self._jobs_lock:
            for job in self.jobs.values():
                # Push and PR finish (a half-opened PR helps nobody); anything before is stopped.
                if job.step not in ("commit", "push", "pr"):
                    job.stop("stop")

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    # ------------------------------------------------------------------------------------- heartbeats
    def _heartbeats(self, done: threading.Event) -> None:
        interval = max(2.0, self.settings.lease / 3)
        while not done.wait(interval):
            with self._jobs_lock:
                ids = list(self.jobs)
            if not ids or self.settings.dry_run:  # a dry run holds no lease
                continue
            try:
                result = self.client.heartbeat(
                    agent=self.settings.name, bug_ids=ids, lease=self.settings.lease
                )
            except ApiError as exc:
                self.progress.emit("heartbeat_failed", message=str(exc))
                continue
            with self._jobs_lock:
                for bug_id in result.lost:
                    job = self.jobs.get(bug_id)
                    if job is not None:
                        self.progress.emit("lease_lost", bug_id, "another agent or a person took the bug")
                        job.stop("lost")

    # --------------------------------------------------------------------------------------- the loop
    def _work(self, job: Job) -> Outcome:
        try:
            outcome = self.repairer.run(job)
        except Exception as exc:  # the repairer reports its own failures; this is the last resort
            outcome = Outcome(
                job.bug.id, "FAILED", reason="agent_error", message=f"{type(exc).__name__}: {exc}"
            )
        finally:
            with self._jobs_lock:
                self.jobs.pop(job.bug.id, None)
        if outcome.status == "PENDING_REVIEW":
            self.progress.emit(
                "done",
                job.bug.id,
                f"PR #{outcome.pr_number} {outcome.pr_url}",
                status=outcome.status,
                pr_number=outcome.pr_number,
                pr_url=outcome.pr_url,
                branch=outcome.branch,
            )
        elif outcome.status == "DRY_RUN":
            print(
                json.dumps(outcome.report.model_dump(mode="json") if outcome.report else {}, indent=2),
                flush=True,
            )
            self.progress.emit("dry_run", job.bug.id, outcome.message or "verified", status=outcome.status)
        elif outcome.status == "FAILED":
            self.progress.emit(
                "failed",
                job.bug.id,
                outcome.message,
                status=outcome.status,
                reason=outcome.reason,
                branch=outcome.branch,
            )
        else:
            self.progress.emit(outcome.status.lower(), job.bug.id, outcome.message, status=outcome.status)
        return outcome

    def _claim(self, room: int) -> list[Job]:
        s = self.settings
        bugs: list[ClaimedBug]
        if s.dry_run:
            seen = {o.bug_id for o in self.outcomes} | set(self.jobs)
            bugs = [
                ClaimedBug.model_validate(b.model_dump())
                for b in self.client.new_bugs(project=s.project, limit=room + len(seen))
                if b.id not in seen
            ]
            bugs = bugs[:room]
        else:
            bugs = self.client.claim(agent=s.name, limit=room, lease=s.lease, project=s.project)
        jobs = [Job(bug) for bug in bugs]
        for job in jobs:
            where = f"{job.bug.file_path}:{job.bug.line_number}" if job.bug.file_path else job.bug.project_id
            self.progress.emit(
                "found" if s.dry_run else "claimed",
                job.bug.id,
                f"{job.bug.error_type} at {where} (project {job.bug.project_id})"
                + (" (dry run: not claimed)" if s.dry_run else ""),
                project=job.bug.project_id,
            )
        return jobs

    def run(self) -> int:
        s = self.settings
        self.progress.emit(
            "started", message=f"{s.name} → {s.server}, fixer {s.fixer}, concurrency {s.concurrency}"
        )
        beats_done = threading.Event()
        beats = threading.Thread(target=self._heartbeats, args=(beats_done,), name="heartbeats", daemon=True)
        beats.start()
        running: set[Future[Outcome]] = set()
        exhausted = False
        code = EXIT_OK
        try:
            with ThreadPoolExecutor(max_workers=s.concurrency, thread_name_prefix="fix") as pool:
                while True:
                    room = s.concurrency - len(running)
                    if room > 0 and not self.stopping.is_set() and not (s.once and exhausted):
                        try:
                            jobs = self._claim(room)
                        except ApiError as exc:
                            self.progress.emit("claim_failed", message=str(exc))
                            if exc.status in (401, 403, 404, 422) or s.once:
                                code = EXIT_CONFIG
                                self.stopping.set()
                            jobs = []
                        exhausted = not jobs
                        room -= len(jobs)
                        for job in jobs:
                            with self._jobs_lock:
                                self.jobs[job.bug.id] = job
                            running.add(pool.submit(self._work, job))
                    if not running:
                        if self.stopping.is_set() or s.once:
                            break
                        self.stopping.wait(s.poll)
                        continue
                    block = room <= 0 or self.stopping.is_set() or (s.once and exhausted)
                    done, _ = wait(running, timeout=None if block else s.poll, return_when=FIRST_COMPLETED)
                    for future in done:
                        running.discard(future)
                        self.outcomes.append(future.result())
        finally:
            beats_done.set()
            self.client.close()
        return self._finish(code)

    def _finish(self, code: int) -> int:
        counts = Counter(o.status for o in self.outcomes)
        prs = ", ".join(f"#{o.pr_number}" for o in self.outcomes if o.pr_number)
        parts = [
            f"{len(self.outcomes)} bugs",
            f"{counts['PENDING_REVIEW']} fixed" + (f" (PR {prs})" if prs else ""),
        ]
        parts += [
            f"{counts[k]} {k.lower().replace('_', ' ')}"
            for k in ("FAILED", "RELEASED", "LOST", "DRY_RUN")
            if counts[k]
        ]
        self.progress.emit("summary", message=", ".join(parts), **{k.lower(): v for k, v in counts.items()})
        return code


def main(settings: AgentSettings) -> int:
    runner = Runner(settings)
    runner.install_signals()
    try:
        return runner.run()
    except KeyboardInterrupt:  # pragma: no cover - SIGINT is handled; a second one lands here
        return 130
    finally:
        sys.stderr.flush()
