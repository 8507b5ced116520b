"""Git for the agent: one mirror per repository under the workdir (fetched, not re-cloned), one worktree per
bug, and push (what happens inside a worktree, the fixer's diff and the commit, is worktree.py).

Credentials for a push or fetch over HTTPS reach git only through that one command's environment
(`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_0` / `GIT_CONFIG_VALUE_0` setting `http.<url>.extraHeader`): never a
repository's config, a URL that is stored or logged, or a process's command line.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class GitError(Exception):
    """A git command failed; the message holds its (credential-free) output."""


class Tampered(GitError):
    """The repository's git configuration or hooks changed after the agent wrote them: the fixer's code (it
    runs as the agent's user) may have redirected the push (pushurl, url.*.insteadOf, core.sshCommand,
    credential.helper, include.path, protocol.*.allow...)."""


# Keys git and the agent write into a mirror's config; anything else was put there by someone else.
MIRROR_KEYS = re.compile(
    r"core\.(repositoryformatversion|filemode|bare|ignorecase|precomposeunicode|logallrefupdates|symlinks)"
    r"|remote\.origin\.(url|fetch)|extensions\.objectformat"
)


def transport(url: str) -> str:
    """git's protocol name for a remote URL (what `protocol.<name>.allow` calls it)."""
    if "://" in url:
        return urlsplit(url).scheme.lower()
    if ":" in url and "/" not in url.split(":", 1)[0]:
        return "ssh"  # scp-like [user@]host:path
    return "file"  # a local path


def network_options(url: str) -> tuple[list[str], dict[str, str]]:
    """`-c` options and environment for a command that talks to `url` with a token: only `url`'s own
    protocol is allowed, no ssh command, credential helper or global config the fixer could have set."""
    proto = transport(url)
    options = ["-c", "protocol.allow=never", "-c", "credential.helper="]
    allowed = ("https", "http") if proto in ("https", "http") else (proto,)
    for name in allowed:
        options += ["-c", f"protocol.{name}.allow=always"]
    options += ["-c", "core.sshCommand=" + ("ssh" if proto == "ssh" else "")]
    return options, {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


@dataclass(frozen=True)
class Credentials:
    """HTTP basic credentials for one host (forge tokens act as passwords)."""

    host: str
    username: str
    password: str = field(repr=False)

    @property
    def token(self) -> str:
        """The secret part, masked in git's output."""
        return self.password if len(self.password) >= len(self.username) else self.username

    def env(self, url: str) -> dict[str, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname != self.host:
            return {}
        basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{parts.scheme}://{parts.netloc}/.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        }


def base_env() -> dict[str, str]:
    """The environment of every git command: the agent's, less its GIT_ and LOGCENTER_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "LOGCENTER_"))}
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1"})
    return env


def git(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
    secret: str = "",
    options: list[str] | None = None,
) -> str:
    """Run git (`options`: more `-c` settings); its output with `secret` masked (a token could echo back in
    an error)."""
    full = base_env()
    full.update(env or {})
    proc = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", *(options or []), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        errors="replace",
    )
    out = proc.stdout + proc.stderr
    if secret:
        out = out.replace(secret, "[MASKED]")
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]} failed: {out.strip()[-2000:]}")
    return proc.stdout


def safe_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    return re.sub(r"(?<=://)[^/@\s]*@", "", url)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise fetches and worktree changes of one repository across threads and agent processes."""
    with _locks_guard:
        lock = _locks.setdefault(str(path), threading.Lock())
    lock_file = path.parent / (path.name + ".lock")
    with lock, open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Repository:
    """A repository the agent makes worktrees from: its own mirror, or a project's local checkout."""

    def __init__(self, path: Path, remote_url: str, credentials: Credentials | None) -> None:
        self.path = path
        self.remote_url = remote_url
        self.credentials = credentials
        self.guarded: dict[str, str] = {}

    @property
    def git_dir(self) -> Path:
        return self.path / ".git" if (self.path / ".git").is_dir() else self.path

    def guarded_state(self) -> dict[str, str]:
        """A hash of each file that could redirect a push or run code in it: the repository's config, every
        worktree's config, and the hooks."""
        gd = self.git_dir
        files = [gd / "config", gd / "config.worktree"]
        files += sorted((gd / "worktrees").glob("*/config*"))
        hooks = gd / "hooks"
        if hooks.is_dir():
            files += sorted(p for p in hooks.rglob("*") if not p.name.endswith(".sample"))
        state = {}
        for path in files:
            name = str(path.relative_to(gd))
            if path.is_symlink():
                state[name] = "symlink:" + os.readlink(path)
            elif path.is_file():
                state[name] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.exists():
                state[name] = "directory"
        return state

    def remember(self) -> None:
        """Keep the hashes of what the agent has just written (or checked): the push compares them."""
        self.guarded = self.guarded_state()

    def changed(self) -> list[str]:
        """The guarded files added, removed or changed since `remember()`."""
        now = self.guarded_state()
        return sorted(n for n in set(now) | set(self.guarded) if now.get(n) != self.guarded.get(n))

    def _check_mirror_config(self) -> None:
        out = git("config", "--file", str(self.path / "config"), "--list", "--name-only", cwd=self.path)
        foreign = sorted({k for k in out.split() if not MIRROR_KEYS.fullmatch(k)})
        url = git(
            "config", "--file", str(self.path / "config"), "--get-all", "remote.origin.url", cwd=self.path
        )
        if foreign or url.strip() != self.remote_url:
            what = ", ".join(foreign) if foreign else "remote.origin.url"
            raise Tampered(
                f"the mirror {self.path} has git settings the agent never writes ({what}): something changed "
                "its config, so it is not fetched; delete the mirror directory to have it cloned again"
            )

    def _auth(self) -> tuple[dict[str, str], str]:
        if self.credentials is None:
            return {}, ""
        return self.credentials.env(self.remote_url), self.credentials.token

    @classmethod
    def mirror(cls, workdir: Path, url: str, credentials: Credentials | None) -> Repository:
        """The mirror of `url` under workdir/mirrors, created on first use, fetched on every use."""
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", safe_url(url).rstrip("/").rsplit("/", 1)[-1])[:60] or "repo"
        path = (
            workdir
            / "mirrors"
            / f"{name.removesuffix('.git')}-{hashlib.sha1(url.encode()).hexdigest()[:10]}.git"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        repo = cls(path, url, credentials)
        with _locked(path):
            if not (path / "HEAD").exists():
                tmp = path.with_name(path.name + ".new")
                shutil.rmtree(tmp, ignore_errors=True)
                git("init", "--bare", "-q", str(tmp), cwd=path.parent)
                git("remote", "add", "origin", url, cwd=tmp)
                git("config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*", cwd=tmp)
                tmp.rename(path)
            repo._check_mirror_config()
            repo.fetch(prune=True)
            git("worktree", "prune", cwd=path)
            repo.remember()
        return repo

    def fetch(self, *, prune: bool = False) -> None:
        """Fetch the branches from the URL the agent holds (not what the config says the remote is)."""
        env, secret = self._auth()
        options, extra = network_options(self.remote_url)
        args = ["fetch", "-q", *(["--prune"] if prune else []), self.remote_url]
        args.append("+refs/heads/*:refs/remotes/origin/*")
        git(*args, cwd=self.path, env={**env, **extra}, secret=secret, options=options)

    @classmethod
    def local(cls, path: Path, url: str | None, credentials: Credentials | None) -> Repository:
        """A project's own checkout (`local_path`): worktrees are added to it; its origin is fetched."""
        if not (path / ".git").exists() and not (path / "HEAD").exists():
            raise GitError(f"local_path {path} is not a git repository")
        remote = git("remote", "get-url", "origin", cwd=path, check=False).strip()
        repo = cls(path, url or remote, credentials)
        with _locked(path):
            if repo.remote_url:
                repo.fetch()
            git("worktree", "prune", cwd=path)
            repo.remember()
        return repo

    def remote_default_branch(self) -> str | None:
        env, secret = self._auth()
        options, extra = network_options(self.remote_url)
        out = git(
            "ls-remote",
            "--symref",
            self.remote_url,
            "HEAD",
            cwd=self.path,
            check=False,
            env={**env, **extra},
            secret=secret,
            options=options,
        )
        match = re.search(r"^ref: refs/heads/(\S+)\s+HEAD", out, re.M)
        return match.group(1) if match else None

    def resolve(self, ref: str) -> str | None:
        out = git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", cwd=self.path, check=False).strip()
        return out or None

    def base(self, branch: str, commit: str | None) -> str:
        """The commit to fix from: the bug's commit when it is known here, else the remote branch's head."""
        if commit and re.fullmatch(r"[0-9a-fA-F]{7,64}", commit):
            found = self.resolve(commit)
            if found:
                return found
        for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
            found = self.resolve(ref)
            if found:
                return found
        raise GitError(f"branch {branch!r} not found in {safe_url(self.remote_url)}")

    def merge_base(self, a: str, b: str) -> str | None:
        out = git("merge-base", a, b, cwd=self.path, check=False).strip()
        return out or None

    def free_branch(self, name: str) -> str:
        """`name`, or `name-2`, `name-3`... when an earlier attempt (maybe of a crashed agent) holds it."""
        taken = set(
            git("for-each-ref", "--format=%(refname:short)", "refs/heads/fix/", cwd=self.path).split()
        )
        taken |= {
            ref.removeprefix("origin/")
            for ref in git(
                "for-each-ref", "--format=%(refname:short)", "refs/remotes/origin/fix/", cwd=self.path
            ).split()
        }
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}-{n}"
        return candidate

    def add_worktree(self, path: Path, *, branch: str | None, base: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):
            if branch:
                git("worktree", "add", "-q", "--no-track", "-B", branch, str(path), base, cwd=self.path)
            else:
                git("worktree", "add", "-q", "--detach", str(path), base, cwd=self.path)
        return path

    def remove_worktree(self, path: Path) -> None:
        with _locked(self.path):
            git("worktree", "remove", "--force", str(path), cwd=self.path, check=False)
            shutil.rmtree(path, ignore_errors=True)
            git("worktree", "prune", cwd=self.path, check=False)

    def push(self, branch: str) -> None:
        """Push the branch to the URL the agent holds, never to a remote name: the fixer (as the agent's
        user) could have rewritten the repository's config. It refuses when the config, a worktree's config
        or the hooks changed since the agent wrote them."""
        changed = self.changed()
        if changed:
            raise Tampered(
                f"refusing to push: the repository's git settings changed while the fixer and the tests ran "
                f"({', '.join(changed[:10])} in {self.git_dir}); they could send the forge token elsewhere "
                "or run code"
            )
        env, secret = self._auth()
        options, extra = network_options(self.remote_url)
        git(
            "push",
            "-q",
            self.remote_url,
            f"refs/heads/{branch}:refs/heads/{branch}",
            cwd=self.path,
            env={**env, **extra},
            secret=secret,
            options=options,
        )
