"""Does a new occurrence of a fixed bug come from code that contains the fix?

A DEPLOYED bug reopens unless the occurrence is known to predate the fix; a MERGED bug (fix not live yet)
reopens only when the occurrence is known to contain it. "Known" comes from the commit or version the report
carries (against the merge and the deployment, and against the commits the bug was reported from before its
fix was merged), or from its timestamp. Whether an unseen commit descends from the merge is not asked here
(slow I/O in the ingest writer's transaction): ingest queues a check for the job worker (bugs/ancestry.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime

from packaging.version import InvalidVersion, Version

from logcenter.bugs.models import Bug, BugStatus

MIN_SHA_PREFIX = 7
# A commit hash, short or whole; with a letter, so that a date or build number used as version is not one.
_SHA = re.compile(r"(?=[0-9]*[a-fA-F])[0-9a-fA-F]{7,64}")


def same_commit(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    shorter = min(len(a), len(b))
    return shorter >= MIN_SHA_PREFIX and a[:shorter] == b[:shorter]


def _parse_version(value: str) -> Version | None:
    # Sentry-style releases look like "my-project@1.2.3"; tags often carry a leading "v".
    try:
        return Version(value.rsplit("@", 1)[-1])
    except InvalidVersion:
        return None


def contains_fix(
    bug: Bug,
    *,
    commit_hash: str | None,
    version: str | None,
    timestamp: datetime,
    before_fix: Collection[str] = (),
) -> bool | None:
    """True if the reporting code is known to contain the fix, False if known not to, None if unknown.
    `before_fix`: the versions and commits the bug was reported from before its fix was merged."""
    if commit_hash:
        for fixed in (bug.merge_commit_sha, bug.deployed_commit):
            if fixed and same_commit(commit_hash, fixed):
                return True
    # A commit that ran before the merge cannot descend from it: a build labelled with such a commit (the
    # short hash the CI snippets use as version) is old code. A version name can be reused; a hash cannot.
    for label in (commit_hash, version):
        if label and _SHA.fullmatch(label) and any(same_commit(label, seen) for seen in before_fix):
            return False
    if version and bug.deployed_version:
        if version == bug.deployed_version:
            return True
        ours, deployed = _parse_version(version), _parse_version(bug.deployed_version)
        if ours is not None and deployed is not None:
            return ours >= deployed
    # An error that happened before the fix was merged cannot come from fixed code (late or retried delivery).
    if bug.merged_at and timestamp < bug.merged_at:
        return False
    return None


def reopens(status: str, known: bool | None) -> bool:
    """Today's rule for an answer of `contains_fix`: a DEPLOYED bug reopens unless the code is known to
    predate the fix, a MERGED one only when it is known to contain it."""
    if status == BugStatus.DEPLOYED:
        return known is not False
    return status == BugStatus.MERGED and known is True


def commit_of(commit_hash: str | None, version: str | None) -> str | None:
    """The commit a report names (its commit_hash, else a version that is a commit hash), lower case."""
    for label in (commit_hash, version):
        if label and _SHA.fullmatch(label):
            return label.lower()
    return None


def note(status: str, *, version: str | None, commit: str | None, checked: bool = False) -> str:
    """The history note of a regression."""
    where = ", ".join(f"{k} {v}" for k, v in (("version", version), ("commit", commit)) if v)
    return (
        f"regression: seen again after the fix was {status.lower()}"
        + (f" ({where})" if where else "")
        + (" (checked with the forge)" if checked else "")
    )


def is_regression(
    bug: Bug,
    *,
    commit_hash: str | None,
    version: str | None,
    timestamp: datetime,
    before_fix: Collection[str] = (),
) -> bool:
    """Should this occurrence reopen the bug as NEW?"""
    if bug.status not in (BugStatus.DEPLOYED, BugStatus.MERGED):
        return False
    known = contains_fix(
        bug, commit_hash=commit_hash, version=version, timestamp=timestamp, before_fix=before_fix
    )
    return reopens(bug.status, known)
