"""Does a new occurrence of a fixed bug come from code that contains the fix?

A DEPLOYED bug reopens unless the occurrence is known to predate the fix; a MERGED bug (fix not live yet)
reopens only when the occurrence is known to contain it. "Known" comes from the commit or version the report
carries, or from its timestamp. Exact commit ancestry needs the forge: `Ancestry` is the hook a forge
implementation passes in to answer "is commit A an ancestor of commit B?".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from packaging.version import InvalidVersion, Version

from logcenter.bugs.models import Bug, BugStatus

# (project_id, ancestor_sha, descendant_sha) -> True / False / None when unknown.
Ancestry = Callable[[int, str, str], bool | None]

MIN_SHA_PREFIX = 7


def _same_commit(a: str, b: str) -> bool:
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
    ancestry: Ancestry | None = None,
) -> bool | None:
    """True if the reporting code is known to contain the fix, False if known not to, None if unknown."""
    if commit_hash:
        for fixed in (bug.merge_commit_sha, bug.deployed_commit):
            if fixed and _same_commit(commit_hash, fixed):
                return True
        if bug.merge_commit_sha and ancestry is not None:
            known = ancestry(bug.project_id, bug.merge_commit_sha, commit_hash)
            if known is not None:
                return known
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


def is_regression(
    bug: Bug,
    *,
    commit_hash: str | None,
    version: str | None,
    timestamp: datetime,
    ancestry: Ancestry | None = None,
) -> bool:
    """Should this occurrence reopen the bug as NEW?"""
    if bug.status not in (BugStatus.DEPLOYED, BugStatus.MERGED):
        return False
    known = contains_fix(
        bug, commit_hash=commit_hash, version=version, timestamp=timestamp, ancestry=ancestry
    )
    if bug.status == BugStatus.DEPLOYED:
        return known is not False
    return known is True
