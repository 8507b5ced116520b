"""Revised fixes from review comments: a reviewer's "request changes" review, a PR comment that starts with
the trigger (`/logcenter revise`), or the Request changes action of Log Center sends a fix awaiting review
back to the repair agent, which revises the same pull request (docs/agent.md, "Revisions")."""
