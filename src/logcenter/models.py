"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from logcenter.auth.models import ApiToken
from logcenter.automerge.models import MergeDecision, MergePolicy, ReviewRequest
from logcenter.bugs.models import (
    Bug,
    BugEvent,
    BugHourlyCount,
    BugTagValue,
    Occurrence,
    ProjectDailyCount,
    StaleSearchRow,
)
from logcenter.db import Base
from logcenter.ingest.models import RecentEventId, UncountedOccurrence
from logcenter.jobs.models import Job
from logcenter.notify.models import InboxItem, NotificationChannel, NotificationCursor, NotificationDelivery
from logcenter.projects.models import Project
from logcenter.repair.models import RepairAttempt
from logcenter.sourcemaps.models import ArtifactBundle, ArtifactFile, SourcemapRetention
from logcenter.users.models import User, WebSession
from logcenter.webhooks.models import WebhookDelivery

__all__ = [
    "ApiToken",
    "ArtifactBundle",
    "ArtifactFile",
    "Base",
    "Bug",
    "BugEvent",
    "BugHourlyCount",
    "BugTagValue",
    "InboxItem",
    "Job",
    "MergeDecision",
    "MergePolicy",
    "NotificationChannel",
    "NotificationCursor",
    "NotificationDelivery",
    "Occurrence",
    "Project",
    "ProjectDailyCount",
    "RecentEventId",
    "RepairAttempt",
    "ReviewRequest",
    "SourcemapRetention",
    "StaleSearchRow",
    "UncountedOccurrence",
    "User",
    "WebSession",
    "WebhookDelivery",
]
