"""The repair agent (`logcenter agent`): claims NEW bugs over HTTP, has an AI CLI fix them in a git worktree,
proves each fix with the project's tests, pushes a branch, opens a pull request and reports back."""
