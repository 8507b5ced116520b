"""Who may ask for a revision, and which words ask for one. Pure functions: the service brings the facts."""

from __future__ import annotations

from logcenter.automerge.designated import is_designated
from logcenter.forges.base import ForgeKind

__all__ = ["is_designated"]

# GitHub's author_association values of people who can push to the repository or own it. MEMBER is a member
# of the organisation that owns the repository (GitHub's webhooks say no more than that).
WRITE_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
CHANGES_REQUESTED = "changes requested"


def is_trigger(text: str | None, trigger: str) -> bool:
    """Whether a comment starts with the trigger (case-insensitive, after leading blanks) as a word of its
    own: `/logcenter revise: also handle ""` does, `/logcenter revised` does not."""
    if not text or not trigger:
        return False
    head = text.lstrip()
    if head[: len(trigger)].casefold() != trigger.casefold():
        return False
    after = head[len(trigger) : len(trigger) + 1]
    return not after or not (after.isalnum() or after in "_-")


def reviewer_problem(
    *, reviewers: list[str], forge: ForgeKind | str, login: str, association: str | None
) -> str | None:
    """Why `login` may not ask for a revision of this project's fixes from the forge; None when they may.

    With designated reviewers, only they may. Without, on GitHub the webhook's author_association must show
    write access (OWNER, MEMBER, COLLABORATOR); Gitea's and GitLab's webhooks do not say, so nobody may
    until the project names its reviewers.
    """
    if reviewers:
        if is_designated(login, reviewers):
            return None
        return f"{login} is not one of the project's designated reviewers ({', '.join(reviewers)})"
    if str(forge) == ForgeKind.GITHUB:
        if (association or "").upper() in WRITE_ASSOCIATIONS:
            return None
        return (
            f"{login} is not an owner, member or collaborator of the repository (GitHub author_association "
            f"{association or 'unknown'}), and the project names no designated reviewers"
        )
    return (
        f"the project names no designated reviewers, and a {forge} webhook does not say whether {login} "
        "may write to the repository: set the project's reviewers (PUT /api/v1/merge-policies/{project})"
    )
