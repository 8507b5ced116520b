"""docs/forges-setup.md's .gitlab-ci.yml deployment step, run by bash with jq and curl against a live
server as a GitLab runner runs it: it deploys the fix, and a wrong secret fails the CI job instead of
passing."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logcenter.bugs.models import BugStatus
from tests.webhooks.conftest import SECRET, forge_project, reload, review_bug

DOC = Path(__file__).resolve().parents[2] / "docs" / "forges-setup.md"
MERGE = "5e0b7c2a1d9f8e7d6c5b4a3928170f6e5d4c3b2a"


def deploy_script() -> str:
    """The shell of the `- |` item in the doc's YAML block (what the runner executes after ./deploy.sh)."""
    yaml = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert yaml, "no yaml block in docs/forges-setup.md"
    lines = yaml.group(1).splitlines()
    start = lines.index("    - |") + 1
    return textwrap.dedent("\n".join(lines[start:]))


def github_script() -> str:
    """The `run: |` of the doc's GitHub Actions step."""
    [yaml] = [b for b in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S) if "GITHUB_SHA" in b]
    lines = yaml.splitlines()
    start = lines.index("        run: |") + 1
    return textwrap.dedent("\n".join(lines[start:]))


def run(script: str, url: str, secret: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "CI_COMMIT_SHA": MERGE,
        "CI_COMMIT_SHORT_SHA": MERGE[:8],
        "CI_ENVIRONMENT_NAME": "production",
        "GITHUB_SHA": MERGE,
        "WEBHOOK_SECRET": secret,
    }
    script = script.replace("https://logcenter.example.com", url)
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("script", [deploy_script, github_script], ids=["gitlab-ci", "github-actions"])
def test_the_documented_ci_step_deploys_the_fix(live_server, session, script):
    bug = review_bug(
        session,
        forge_project(session, "rtc_backend", "airlabs/rtc_backend"),
        status=BugStatus.MERGED,
        merge_commit_sha=MERGE,
        merged_at=datetime.now(UTC) - timedelta(hours=1),
    )
    refused = run(script(), live_server.url, "not-the-secret")
    assert refused.returncode != 0  # the job fails: a silent 401 would leave the bug MERGED unnoticed
    assert "Invalid webhook signature" in refused.stdout + refused.stderr
    assert reload(session, bug).status == BugStatus.MERGED
    done = run(script(), live_server.url, SECRET)
    assert done.returncode == 0, done.stderr
    assert f'"deployed":[{bug.id}]' in done.stdout
    bug = reload(session, bug)
    assert (bug.status, bug.deployed_commit, bug.deployed_version) == (BugStatus.DEPLOYED, MERGE, MERGE[:8])
    assert bug.deployed_environment == "production"
