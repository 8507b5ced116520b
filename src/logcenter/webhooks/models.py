from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from logcenter.db import Base, UTCDateTime, utcnow


class WebhookDelivery(Base):
    """A webhook delivery already handled: a redelivery of the same id is answered 200 and changes nothing.

    `source` is the endpoint (gitea, github, gitlab, deployment); `delivery_id` the sender's id for it
    (X-Gitea-Delivery, X-GitHub-Delivery, GitLab's Idempotency-Key / X-Gitlab-Event-UUID, or the deployment
    call's Idempotency-Key). Rows older than the retention are pruned by the PR sync job.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("source", "delivery_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
