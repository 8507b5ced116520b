"""Settings: the only place that reads the environment (prefix ``LOGCENTER_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from logcenter.scrub import Scrubber, ScrubRules

# Earlier versions kept their data in ./data, relative to where `serve` was started.
LEGACY_DATA_DIR = Path("data")


def default_data_dir() -> Path:
    """./data when it holds an earlier version's database, else the user's data directory
    (~/.local/share/logcenter): one place, wherever `logcenter` is started from."""
    if (LEGACY_DATA_DIR / "logcenter.db").is_file():
        return LEGACY_DATA_DIR.resolve()
    return Path(platformdirs.user_data_dir("logcenter", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOGCENTER_", env_file=".env", extra="ignore")

    # Storage
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the SQLite database and the server's key file live: ./data if it holds an earlier "
        "version's logcenter.db, else the user's data directory (~/.local/share/logcenter)",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db; default: the "
        "SQLite database logcenter.db in the data directory",
    )
    database_pool_size: int = Field(default=10, ge=1)

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8002, ge=1, le=65535)
    workers: int = Field(
        default=1, ge=1, le=64, description="HTTP worker processes (one writer process serves them all)"
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL clients use to reach this server (for DSNs); defaults to host:port",
    )

    # Ingest
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="413 above this request body size")
    ingest_require_key: bool = Field(
        default=False,
        description="Require a project ingest key (or ingest token) on POST /api/v1/logs/report",
    )
    occurrence_retention: int = Field(
        default=100, ge=1, description="Full occurrences kept per bug; older ones are pruned but stay counted"
    )
    sentry_dedup_window: int = Field(
        default=100_000,
        ge=1,
        description="Sentry event ids the ingest writer remembers to recognise a repeated event_id (SDKs "
        "retry): the last this many events stored, about 14 MB of memory per 100,000",
    )
    count_interval: float = Field(
        default=1.0,
        ge=0,
        description="How often (seconds) the ingest writer adds stored reports to their bugs' counters and "
        "prunes old occurrences: counters lag reports by up to this; 0 counts each batch before answering",
    )
    writer_max_batch: int = Field(default=500, ge=1)
    writer_queue_size: int = Field(default=20_000, ge=1)
    writer_socket: str | None = Field(
        default=None,
        description="Internal, set by `logcenter serve`: the Unix socket of its writer process. Unset, each "
        "process commits its own reports from a writer thread",
    )
    max_clock_skew_seconds: int = Field(
        default=60, ge=0, description="Report timestamps further in the future are clamped to server time"
    )

    # Data scrubbing (logcenter/scrub.py): secrets in reports become [Filtered] before they are stored
    scrub_data: bool = Field(default=True, description="Scrub passwords, tokens, cookies, card numbers...")
    scrub_fields: str = Field(
        default="", description="More sensitive key names, comma-separated (matched as parts of keys)"
    )
    scrub_safe_fields: str = Field(default="", description="Key names never scrubbed, comma-separated")
    scrub_ip_addresses: bool = Field(default=False, description="Also scrub IP addresses")
    scrub_allow_project_off: bool = Field(
        default=False,
        description="Let a project turn scrubbing off for itself (its scrubbing.scrub_data: false)",
    )

    # Sentry protocol: Relay's limits (develop-docs envelopes.mdx); 413 above them
    sentry_max_envelope_compressed_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="413 above this body size on /api/<id>/envelope/"
    )
    sentry_max_envelope_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1024, description="413 when an envelope decompresses to more than this"
    )
    sentry_max_event_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="413 above this event item size; also caps /store/ bodies"
    )
    project_quota_per_minute: int = Field(
        default=0,
        ge=0,
        description="Sentry events per project and minute, per server (429); 0 = off",
    )

    # Repair agent leases
    lease_seconds: int = Field(default=1800, ge=10, description="Default lease of a claimed bug")
    lease_sweep_seconds: int = Field(
        default=30, ge=1, description="How often a background job returns expired leases to NEW"
    )

    # Revised fixes from review comments (docs/agent.md); a project's merge policy may set its own
    revision_trigger: str = Field(
        default="/logcenter revise",
        min_length=2,
        max_length=100,
        description="A PR comment from a reviewer that starts with this asks the repair agent for a revision "
        "(a review requesting changes always does)",
    )
    max_revisions: int = Field(
        default=3, ge=0, le=100, description="Revisions a fix may have; past it a request is refused"
    )

    # Background jobs (docs/jobs.md)
    job_worker: bool = Field(
        default=True,
        description="Run background jobs in this server: one worker thread per `logcenter serve`, whatever "
        "the number of HTTP workers. Set false when only `logcenter worker` processes should run them",
    )
    job_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often an idle job worker looks for due jobs"
    )
    job_lease_seconds: int = Field(
        default=300,
        ge=5,
        description="A running job's lease, renewed while its worker lives; a dead worker's job is run "
        "again this long after its last renewal",
    )
    job_retry_seconds: float = Field(
        default=10.0, ge=0, description="Wait before a failed job's second attempt; doubled for each next"
    )
    job_retry_max_seconds: float = Field(default=3600.0, ge=0, description="Longest wait between attempts")
    job_keep_days: int = Field(default=7, ge=1, description="Finished jobs are deleted after this many days")

    # Notifications (notify/): read from the bug history by a periodic job, sent by delivery jobs
    notify_interval_seconds: int = Field(
        default=10, ge=1, description="How often new bug history is turned into notifications"
    )
    notify_settle_seconds: float = Field(
        default=5.0,
        ge=0,
        description="PostgreSQL: history rows younger than this wait for the next round, so that one whose "
        "transaction commits late is not skipped (SQLite commits in id order and needs no wait)",
    )
    notify_max_attempts: int = Field(
        default=6, ge=1, le=20, description="Attempts per message before it fails"
    )
    notify_failing_after: int = Field(
        default=5, ge=1, description="Failed attempts in a row after which a channel is marked as failing"
    )
    notify_digest_hour: int = Field(default=9, ge=0, le=23, description="Hour (UTC) of the daily digest")
    automerge_check_seconds: int = Field(
        default=60,
        ge=5,
        description="How often fixes awaiting review are checked against auto-merge policies",
    )
    notify_burst_per_minute: int = Field(
        default=10,
        ge=0,
        description="Messages a channel gets one by one per minute; more (many bugs at once) go out as one "
        "summary. 0 = no limit",
    )

    # Web UI passwords (users/service.py): the argon2id cost of new hashes. Stored hashes keep the cost they
    # were made with and are re-hashed at the user's next login. The defaults are argon2-cffi's (RFC 9106's
    # second recommendation: 3 passes over 64 MiB in 4 lanes)
    password_hash_time_cost: int = Field(default=3, ge=1, description="argon2 passes per password hash")
    password_hash_memory_kib: int = Field(
        default=65536, ge=8, description="argon2 memory per password hash, in KiB (at least 8 per lane)"
    )
    password_hash_parallelism: int = Field(
        default=4, ge=1, le=64, description="argon2 lanes (threads) per password hash"
    )

    # Admin bootstrap
    sourcemaps_dir: Path | None = Field(
        default=None,
        description="Where uploaded source map bundles are kept (default: <data_dir>/sourcemaps)",
    )
    sourcemap_keep_bundles: int = Field(
        default=100,
        ge=1,
        description="Artifact bundles kept per project (newest first); a project may override",
    )
    sourcemap_keep_days: int = Field(
        default=90, ge=1, description="Artifact bundles older than this are deleted; a project may override"
    )
    sourcemap_max_bundle_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1024, description="Largest artifact bundle accepted from sentry-cli"
    )
    sourcemap_cache_size: int = Field(
        default=64, ge=1, description="Parsed source maps kept in memory per process"
    )
    admin_token: SecretStr | None = Field(
        default=None, description="If set and no admin token exists, this one is stored on first start"
    )

    # Forges: server-wide fallbacks for projects that do not set their own (PUT /api/v1/projects/{id})
    gitea_url: str | None = Field(
        default=None, description="Gitea API base, e.g. https://gitea.example/api/v1"
    )
    gitea_token: SecretStr | None = None
    github_api_url: str = Field(default="https://api.github.com", description="GitHub (Enterprise) API base")
    github_token: SecretStr | None = None
    gitlab_url: str | None = Field(
        default=None, description="GitLab API base, e.g. https://gitlab.example/api/v4"
    )
    gitlab_token: SecretStr | None = None
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret of the forge and deployment webhooks of projects without their own; with "
        "neither, the webhook endpoints refuse every call",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) that encrypt stored forge tokens and webhook secrets, newest first, "
        "comma-separated; default: the key file secret.key in the data directory, created on first use",
    )
    pull_request_cache_seconds: float = Field(
        default=30, ge=0, description="How long GET /api/v1/bugs/{id}/pull-request reuses the forge's answer"
    )
    pr_sync_seconds: int = Field(
        default=300, ge=10, description="How often the worker asks the forge about PRs awaiting review"
    )

    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, value: str) -> str:
        # Accept the URLs people paste from their PostgreSQL docs and route them to psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _argon2_memory_per_lane(self) -> Settings:
        if self.password_hash_memory_kib < 8 * self.password_hash_parallelism:
            raise ValueError(
                "password_hash_memory_kib must be at least 8 per lane of password_hash_parallelism"
            )
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'logcenter.db'}"
        return self

    @property
    def scrub_rules(self) -> ScrubRules:
        """The server's scrubbing rules; each project may add to them (ingest/scrubbers.py)."""
        return ScrubRules(
            enabled=self.scrub_data,
            fields=tuple(f.strip() for f in self.scrub_fields.split(",") if f.strip()),
            safe_fields=tuple(f.strip() for f in self.scrub_safe_fields.split(",") if f.strip()),
            ip_addresses=self.scrub_ip_addresses,
        )

    @property
    def scrubber(self) -> Scrubber:
        return self.scrub_rules.scrubber()

    @property
    def sourcemaps_path(self) -> Path:
        return (self.sourcemaps_dir or self.data_dir / "sourcemaps").expanduser()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
