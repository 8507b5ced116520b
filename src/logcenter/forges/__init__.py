"""Forge clients (Gitea, GitHub, GitLab) behind one interface: see base.py."""
