"""Projects: created by the first report, configured for the repair agent through the API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from logcenter.db import upsert_insert, utcnow
from logcenter.errors import Conflict, NotFound
from logcenter.projects import forge, scrubbing
from logcenter.projects.models import Project, new_ingest_key
from logcenter.projects.schemas import REMOTE_REPO_PREFIXES, ProjectCreate, ProjectUpdate
from logcenter.secretbox import SecretBox


@dataclass(slots=True, frozen=True)
class IngestProject:
    id: int
    has_repo_url: bool


def list_projects(session: Session, *, ids: frozenset[int] | None = None) -> list[Project]:
    """Every project (or those of `ids`), by slug."""
    query = select(Project).order_by(Project.slug)
    if ids is not None:
        query = query.where(Project.id.in_(ids))
    return list(session.scalars(query))


def get_by_slug(session: Session, slug: str) -> Project:
    """The project with this string id, or 404."""
    project = session.scalar(select(Project).where(Project.slug == slug))
    if project is None:
        raise NotFound(f"Project {slug!r} not found")
    return project


def create(
    session: Session, *, data: ProjectCreate, box: SecretBox | None = None, allow_scrub_off: bool = False
) -> Project:
    """Create a project ahead of its first report (needed when ingest keys are required)."""
    scrubbing.check(data.scrubbing, allow_off=allow_scrub_off)
    fields = data.model_dump(exclude={"project_id", "scrubbing", *forge.SECRET_FIELDS}, exclude_none=True)
    fields["scrubbing"] = scrubbing.stored(data.scrubbing)
    now = utcnow()
    # ON CONFLICT rather than look-then-insert: two concurrent creates on PostgreSQL would otherwise both
    # pass the look and one would fail on the unique slug (500) instead of getting its 409.
    pk = session.scalar(
        upsert_insert(session, Project)
        .values(
            slug=data.project_id,
            ingest_key=new_ingest_key(),
            created_at=now,
            updated_at=now,
            repo_url_confirmed=bool(fields.get("repo_url")),  # an admin's
            **{k: (v or None) for k, v in fields.items()},
        )
        .on_conflict_do_nothing(index_elements=["slug"])
        .returning(Project.id)
    )
    if pk is None:
        raise Conflict(f"Project {data.project_id!r} already exists")
    project = session.get_one(Project, pk)
    _store_secrets(project, data.model_dump(include=set(forge.SECRET_FIELDS), exclude_none=True), box)
    session.flush()
    return project


def _store_secrets(project: Project, values: dict[str, object], box: SecretBox | None) -> None:
    if values:
        if box is None:
            raise TypeError("storing a forge token or webhook secret needs the server's SecretBox")
        forge.store_secrets(project, values, box=box)


def update_project(
    session: Session,
    *,
    slug: str,
    data: ProjectUpdate,
    box: SecretBox | None = None,
    allow_scrub_off: bool = False,
) -> Project:
    """Apply the fields the client sent; an empty string clears one. Secrets are stored encrypted; the
    scrubbing rules are replaced as a whole."""
    scrubbing.check(data.scrubbing, allow_off=allow_scrub_off)
    project = get_by_slug(session, slug)
    for key, value in data.model_dump(exclude_unset=True, exclude=set(forge.SECRET_FIELDS)).items():
        if key == "scrubbing":
            value = scrubbing.stored(data.scrubbing)
        setattr(project, key, value or None)
        if key == "repo_url":  # an admin's word: confirmed (a report's is only a suggestion)
            project.repo_url_confirmed = bool(value)
    _store_secrets(project, data.model_dump(include=set(forge.SECRET_FIELDS), exclude_unset=True), box)
    project.updated_at = utcnow()
    session.flush()
    return project


def rotate_ingest_key(session: Session, *, slug: str) -> Project:
    """Give the project a new public ingest key; the old one stops working."""
    project = get_by_slug(session, slug)
    project.ingest_key = new_ingest_key()
    project.updated_at = utcnow()
    session.flush()
    return project


def dsn(project: Project, *, base_url: str) -> str:
    """The Sentry DSN for this project: http://<key>@<host>[:port][/path]/<numeric id>."""
    parts = urlsplit(base_url.rstrip("/"))
    return f"{parts.scheme}://{project.ingest_key}@{parts.netloc}{parts.path}/{project.id}"


def resolve_for_ingest(session: Session, slugs: Mapping[str, str | None]) -> dict[str, IngestProject]:
    """Ids of the projects named by a batch of reports, creating missing ones (concurrency-safe).

    `slugs` maps each slug to a repo_url a report carried; it is stored on projects that have none, and
    never overwrites a configured one.
    """
    # Reports are unauthenticated by default: only a plain network remote may become a project's repo_url,
    # and never with the credentials a CI checkout's remote carries.
    slugs = {
        s: (_without_credentials(url) if url and url.startswith(REMOTE_REPO_PREFIXES) else None)
        for s, url in slugs.items()
    }
    found = _load(session, slugs)
    missing = [s for s in slugs if s not in found]
    if missing:
        now = utcnow()
        rows = [
            {
                "slug": s,
                "repo_url": slugs[s],
                "ingest_key": new_ingest_key(),
                "created_at": now,
                "updated_at": now,
            }
            for s in missing
        ]
        session.execute(
            upsert_insert(session, Project).values(rows).on_conflict_do_nothing(index_elements=["slug"])
        )
        found.update(_load(session, missing))
    for slug, repo_url in slugs.items():
        project = found[slug]
        if repo_url and not project.has_repo_url:
            session.execute(
                update(Project)
                .where(Project.id == project.id, Project.repo_url.is_(None))
                .values(repo_url=repo_url, updated_at=utcnow())
            )
            found[slug] = IngestProject(project.id, True)
    return found


def _without_credentials(url: str) -> str:
    """A repository URL without the token or password in it: GitLab CI's remote is
    https://gitlab-ci-token:<job token>@host/..., other CIs put a token as the user of https:// URLs. An
    ssh:// user stays (it names the account, as git@ does), its password does not."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at or parts.scheme not in ("http", "https", "ssh"):
        return url
    user = userinfo.partition(":")[0]
    netloc = f"{user}@{host}" if parts.scheme == "ssh" and user else host
    return urlunsplit(parts._replace(netloc=netloc))


def _load(session: Session, slugs: Iterable[str]) -> dict[str, IngestProject]:
    rows = session.execute(
        select(Project.slug, Project.id, Project.repo_url).where(Project.slug.in_(list(slugs)))
    )
    return {slug: IngestProject(pk, bool(repo)) for slug, pk, repo in rows}
