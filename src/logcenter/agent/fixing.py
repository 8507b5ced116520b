"""The fix step of a repair: the fixer edits the worktree, and what it says it did and cost is kept."""

from __future__ import annotations

import os
from dataclasses import dataclass

from logcenter.agent import fixers, prompt
from logcenter.agent.job import Attempt, Failure, Job
from logcenter.agent.preparation import Checkout, Setup


@dataclass(frozen=True)
class Fixed:
    """The fixer's run, as the report and the pull request tell it."""

    run: fixers.FixerRun
    cost: str  # turns, dollars, tokens, seconds: what the fixer reported
    analysis: str  # the model's own account of the fix


def run_fixer(job: Job, setup: Setup, tree: Checkout, attempt: Attempt) -> Fixed:
    """The fixer on the worktree, with the prompt in a file of its own outside it; FAILED when the fixer
    says it failed."""
    config = setup.config
    built = prompt.build(
        setup.detail,
        test_command=config.test_command,
        test_patterns=config.test_patterns,
        masker=setup.masker,
        revision=job.bug.revision_request,
        base=tree.base,
    )
    prompt_dir = setup.workdir / "prompts"
    prompt_dir.mkdir(parents=True, exist_ok=True)
    prompt_file = prompt_dir / f"{tree.name}.txt"
    attempt.prompt_file = prompt_file
    fd = os.open(prompt_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(built.text)
    fix_job = fixers.FixJob(
        prompt=built,
        prompt_file=prompt_file,
        worktree=tree.worktree,
        test_command=config.test_command,
        bug_file=job.bug.file_path,
        env=setup.fixer_env,
        timeout=config.timeout,
        max_turns=config.max_turns,
        max_budget_usd=config.max_budget_usd,
        model=setup.settings.model,
        cancel=job.cancel,
    )
    try:
        run = setup.fixer.run(fix_job)
    except fixers.FixerMissing as exc:
        raise Failure("config_missing", str(exc)) from exc
    attempt.timings["fixer_run"] = round(run.seconds, 3)
    return _account(run, setup, attempt)


def _account(run: fixers.FixerRun, setup: Setup, attempt: Attempt) -> Fixed:
    """What the fixer says it did and what it cost; FAILED when it says it failed."""
    cost = ", ".join(
        part
        for part in (
            f"{run.turns} turns" if run.turns is not None else "",
            f"${run.cost_usd:.4f}" if run.cost_usd is not None else "",
            f"{run.tokens} tokens" if run.tokens is not None else "",
            f"{run.seconds:.1f} s",
        )
        if part
    )
    analysis = run.analysis.strip()
    attempt.analysis = setup.secret_masker.text(
        (analysis + "\n\n" if analysis else "")
        + f"[{setup.fixer.name}: {cost}]"
        + (f" [permission denials: {', '.join(run.denials)}]" if run.denials else "")
    )[:100_000]
    if not run.ok:
        raise Failure(run.reason or "fixer_error", run.detail, run.output_tail)
    return Fixed(run, cost, analysis)
