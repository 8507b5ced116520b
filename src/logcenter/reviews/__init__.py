"""Acting on a fix from Log Center: merge or reject its PR, show its diff, keep PR states in sync."""
