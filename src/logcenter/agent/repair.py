"""One bug, start to finish. `Repairer._fix` lists the steps: prepare (the project's settings, the fixer,
the forge) and checkout (the worktree on the fix's branch) with preparation.py; fix (the fixer, on a prompt)
with fixing.py; verify (the diff checked, the new tests fail before the fix and the whole suite passes after
it) with verification.py; then commit, push and open the PR, here. `Repairer.run` reports. Every way it can
fail ends in a FAILED report whose reason starts with the step's code (job.py: the job, its failures, and the
`Attempt` that records what the run got so far, for that report and the clean-up).

A revision (a reviewer asked for changes: the claimed bug carries `revision_request`) takes the same steps on
the fix's own branch: its worktree is the branch's head, the prompt adds the reviewers' comments, the whole
branch is verified again against the commit it forked from, a new commit is pushed on top (no force push),
and the agent replies on the PR instead of opening one."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from logcenter.agent import environment, fixers, forge, text
from logcenter.agent.client import ApiError, Client
from logcenter.agent.fixing import Fixed, run_fixer
from logcenter.agent.git import GitError, safe_url
from logcenter.agent.job import Attempt, Cancelled, Failure, Job, Outcome, Steps
from logcenter.agent.masking import Masker, project_rules
from logcenter.agent.options import AgentSettings
from logcenter.agent.preparation import Checkout, Setup, checkout, make_fixer, project_config
from logcenter.agent.progress import Progress
from logcenter.agent.verification import MAX_OUTPUT, Verified, verify_fix
from logcenter.agent.worktree import commit
from logcenter.repair.schemas import RepairReportIn
from logcenter.revisions.schemas import RevisionTask


class Repairer:
    """Repairs claimed bugs, one `run` a bug. The runner calls `run` from several threads at once, so a run
    keeps what it has got in its own objects (Steps, Attempt, Setup, Checkout), never on the Repairer."""

    def __init__(self, settings: AgentSettings, client: Client, progress: Progress) -> None:
        self.settings = settings
        self.client = client
        self.progress = progress
        self.secret_masker = Masker(known_secrets=settings.secrets())
        self.masker = Masker(settings.mask_patterns, known_secrets=settings.secrets())
        self.workdir = settings.workdir.resolve()

    def run(self, job: Job) -> Outcome:
        bug = job.bug
        steps = Steps()
        attempt = Attempt()
        try:
            report = self._fix(job, steps, attempt)
        except Cancelled:
            return self._give_back(job)
        except Failure as failure:
            if job.cancel.is_set():
                return self._give_back(job)
            report = self._failed_report(failure, attempt)
        except Exception as exc:  # a bug in the agent must still end the run in a report a person reads
            if job.cancel.is_set():
                return self._give_back(job)
            crash = Failure(
                "agent_error", f"{type(exc).__name__}: {self.secret_masker.text(str(exc))[:1000]}"
            )
            report = self._failed_report(crash, attempt)
        finally:
            self._cleanup(attempt)
        report.duration_seconds = steps.total
        # The test runs inside "verify", apart: the agent's own overhead is the rest (bench/agent.py).
        report.durations = {**steps.durations, **attempt.timings}
        outcome = Outcome(
            bug_id=bug.id,
            status=report.status or "FAILED",
            reason=(report.failure_reason or "").split(":", 1)[0] or None,
            message=report.failure_reason or "",
            pr_number=report.pr_number,
            pr_url=report.pr_url,
            branch=report.branch_name,
            report=report,
        )
        if self.settings.dry_run:
            outcome.status = "DRY_RUN"
            return outcome
        try:
            self.client.report(bug.id, report)
        except Exception as exc:
            outcome.status = "FAILED"
            outcome.message = f"the server refused the report: {exc}"
            if "409" in str(exc):
                outcome.status = "LOST"
        return outcome

    def _fix(self, job: Job, steps: Steps, attempt: Attempt) -> RepairReportIn:
        """The steps of a repair, in order; any of them ends the run with a Failure (or Cancelled)."""
        with steps("prepare", job):
            setup = self._prepare(job, attempt)
        job.check()
        with steps("checkout", job):
            tree = checkout(job.bug, setup, attempt)
        job.check()
        self._step(job, "fixing", f"{self._what(job, setup)} {tree.where()}", branch=tree.branch)
        with steps("fix", job):
            fixed = run_fixer(job, setup, tree, attempt)
        job.check()
        self._step(
            job,
            "verifying",
            f"{setup.fixer.name} finished ({fixed.cost}); running `{setup.config.test_command}`",
        )
        with steps("verify", job):
            verified = verify_fix(job, setup, tree, fixed, attempt)
        job.check()
        with steps("commit", job):
            sha = self._commit(job, setup, tree)
        attempt.branch_kept = tree.branch
        report = self._report(setup, tree, verified, attempt, sha)
        if not self.settings.pushes:
            return self._not_pushed(report, tree, sha)
        with steps("push", job):
            self._push(tree, verified)
        self._step(job, "pushed", f"{tree.branch} ({sha[:12]})", branch=tree.branch, commit=sha)
        with steps("pr", job):
            self._open_pull_request_or_reply(job, setup, tree, fixed, verified, sha, report)
        return report

    def _prepare(self, job: Job, attempt: Attempt) -> Setup:
        """The bug's report and its project's settings, the fixer (installed) and the forge to push to."""
        settings = self.settings
        detail = self.client.bug(job.bug.id, occurrences=5)
        project = self.client.project(job.bug.project_id)
        config = project_config(project, settings)
        # The project's scrubbing rules (its extra sensitive and safe fields) on everything taken from the
        # report, in the prompt, the commit message and the pull request.
        masker = self.masker.with_rules(project_rules(project))
        fixer = make_fixer(settings, config.fixer)
        attempt.fixer = fixer.name
        target = None
        if settings.pushes:
            try:
                target = forge.resolve(project, settings, config.repo_url or "")
            except forge.ForgeMissing as exc:
                raise Failure("config_missing", str(exc)) from exc
        fixer_env = environment.scrubbed(
            fixer.name, secrets=settings.secrets(), extra_allowed=settings.fixer_env
        )
        test_env = environment.scrubbed("command", secrets=settings.secrets())
        try:
            if fixer.name != "command":
                fixer.resolve()
        except fixers.FixerMissing as exc:
            raise Failure("config_missing", str(exc)) from exc
        return Setup(
            settings=settings,
            workdir=self.workdir,
            secret_masker=self.secret_masker,
            detail=detail,
            config=config,
            masker=masker,
            fixer=fixer,
            target=target,
            fixer_env=fixer_env,
            test_env=test_env,
        )

    # ------------------------------------------------------------------- commit, push and open the PR
    def _what(self, job: Job, setup: Setup) -> str:
        revision = job.bug.revision_request
        return setup.fixer.name if revision is None else f"revision {revision.number}: {setup.fixer.name}"

    def _bug_url(self, job: Job) -> str:
        return f"{self.settings.server}/bugs/{job.bug.id}"

    def _commit(self, job: Job, setup: Setup, tree: Checkout) -> str:
        bug, revision, masker = job.bug, job.bug.revision_request, setup.masker
        message = (
            text.commit_message(bug, masker, self._bug_url(job))
            if revision is None
            else text.revision_commit_message(
                bug, masker, self._bug_url(job), number=revision.number, asked_by=_asked_by(revision)
            )
        )
        return commit(
            tree.worktree, message=message, name=self.settings.git_name, email=self.settings.git_email
        )

    def _report(
        self, setup: Setup, tree: Checkout, verified: Verified, attempt: Attempt, sha: str
    ) -> RepairReportIn:
        """The report of the verified, committed fix: PENDING_REVIEW once it is pushed and its PR open."""
        return RepairReportIn(
            status="PENDING_REVIEW",
            agent=self.settings.name,
            fixer=setup.fixer.name,
            analysis=attempt.analysis,
            modified_files=attempt.modified,
            diff=attempt.diff,
            test_passed=True,
            test_output=verified.text,
            verification=verified.evidence.verification(self.secret_masker.text(setup.config.test_command)),
            branch_name=tree.branch,
            head_sha=sha,
        )

    def _not_pushed(self, report: RepairReportIn, tree: Checkout, sha: str) -> RepairReportIn:
        where = safe_url(str(tree.repo.path))
        report.status = "FAILED"
        report.failure_reason = (
            f"not_pushed: verified fix committed as {sha[:12]} on branch {tree.branch} in {where}; "
            f"not pushed and no pull request ({'--dry-run' if self.settings.dry_run else '--no-push'})"
        )
        return report

    def _push(self, tree: Checkout, verified: Verified) -> None:
        try:
            tree.repo.push(tree.branch)
        except GitError as exc:
            raise Failure("push_failed", self.secret_masker.text(str(exc)), verified.text) from exc

    def _open_pull_request_or_reply(
        self,
        job: Job,
        setup: Setup,
        tree: Checkout,
        fixed: Fixed,
        verified: Verified,
        sha: str,
        report: RepairReportIn,
    ) -> None:
        """A first fix's pull request, or a revision's reply on its PR."""
        revision = job.bug.revision_request
        if revision is None:
            self._open_pull_request(job, setup, tree, fixed, verified, report)
        else:
            self._reply(job, setup, revision, fixed, verified, sha, report)

    def _open_pull_request(
        self,
        job: Job,
        setup: Setup,
        tree: Checkout,
        fixed: Fixed,
        verified: Verified,
        report: RepairReportIn,
    ) -> None:
        bug, masker = job.bug, setup.masker
        body = text.pr_body(
            bug,
            bug_url=self._bug_url(job),
            masker=masker,
            analysis=fixed.analysis,
            changes=verified.changes,
            evidence=verified.evidence,
            test_command=setup.config.test_command,
            fixer=setup.fixer.name,
            cost=fixed.cost,
        )
        assert setup.target is not None
        try:
            with closing(forge.open_forge(setup.target)) as client:
                pr = client.create_pull_request(
                    head=tree.branch, base=tree.default_branch, title=text.title(bug, masker), body=body
                )
        except Exception as exc:
            raise Failure(
                "pr_failed",
                f"branch {tree.branch} was pushed, but opening the pull request failed: "
                f"{self.secret_masker.text(str(exc))[:1000]}",
                verified.text,
            ) from exc
        report.pr_number = pr.number
        report.pr_url = pr.url
        self.progress.emit("pr", bug.id, f"PR #{pr.number} {pr.url}", pr_number=pr.number, pr_url=pr.url)

    def _reply(
        self,
        job: Job,
        setup: Setup,
        revision: RevisionTask,
        fixed: Fixed,
        verified: Verified,
        sha: str,
        report: RepairReportIn,
    ) -> None:
        """The agent's comment on the PR: what the revision changed. The commit is pushed already, so a
        forge that refuses the comment fails nothing; the history says the reply is missing."""
        report.pr_number, report.pr_url = revision.pr_number, revision.pr_url
        if revision.pr_number is None:
            return
        body = text.revision_reply(
            job.bug,
            bug_url=self._bug_url(job),
            masker=setup.masker,
            number=revision.number,
            asked_by=_asked_by(revision),
            sha=sha,
            analysis=fixed.analysis,
            changes=verified.changes,
            evidence=verified.evidence,
            test_command=setup.config.test_command,
            fixer=setup.fixer.name,
            cost=fixed.cost,
        )
        assert setup.target is not None
        try:
            with closing(forge.open_forge(setup.target)) as client:
                client.comment(revision.pr_number, body)
        except Exception as exc:
            self._step(
                job,
                "reply_failed",
                f"PR #{revision.pr_number}: the revision is pushed, but the reply on the PR failed: "
                f"{self.secret_masker.text(str(exc))[:500]}",
            )
            return
        self.progress.emit("replied", job.bug.id, f"PR #{revision.pr_number}: revision {revision.number}")

    # ------------------------------------------------------------------------------------------ report
    def _give_back(self, job: Job) -> Outcome:
        if job.why == "lost":
            return Outcome(job.bug.id, "LOST", message=f"lease lost during {job.step}")
        note = f"Repair agent {self.settings.name} stopped during {job.step}; bug given back"
        if not self.settings.dry_run:
            try:
                self.client.release(agent=self.settings.name, bug_ids=[job.bug.id], note=note)
            except Exception as exc:
                return Outcome(job.bug.id, "LOST", message=f"release failed ({exc}); the lease will expire")
        return Outcome(job.bug.id, "RELEASED", message=note)

    def _failed_report(self, failure: Failure, attempt: Attempt) -> RepairReportIn:
        message = f"{failure.code}: {self.secret_masker.text(str(failure))}"
        evidence = self.secret_masker.text(failure.evidence)[-MAX_OUTPUT:]
        return RepairReportIn(
            status="FAILED",
            agent=self.settings.name,
            fixer=attempt.fixer or self.settings.fixer,
            analysis=attempt.analysis,
            modified_files=attempt.modified,
            diff=attempt.diff,
            test_passed=attempt.test_passed,
            test_output=evidence or None,
            branch_name=attempt.branch_kept,
            failure_reason=message[:10_000],
        )

    def _cleanup(self, attempt: Attempt) -> None:
        for path in (attempt.base_worktree, attempt.worktree):
            if attempt.repo is not None and path is not None:
                attempt.repo.remove_worktree(path)
        if attempt.prompt_file is not None:
            attempt.prompt_file.unlink(missing_ok=True)

    def _step(self, job: Job, step: str, message: str, **fields: Any) -> None:
        """A step on stderr and in the bug's history (best effort: the history is for people)."""
        self.progress.emit(step, job.bug.id, message, **fields)
        if self.settings.dry_run:
            return
        try:
            self.client.progress(agent=self.settings.name, bug_id=job.bug.id, step=step, note=message)
        except ApiError as exc:
            self.progress.emit("history_failed", job.bug.id, str(exc))


def _asked_by(revision: RevisionTask) -> str:
    return ", ".join(revision.requested_by) or "a reviewer"
