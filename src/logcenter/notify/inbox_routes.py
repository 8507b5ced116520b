"""`/api/v1/inbox`: the logged-in user's message centre (web session cookie; POSTs carry X-CSRF-Token)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from logcenter.deps import SessionDep
from logcenter.notify import inbox
from logcenter.notify.models import InboxItem
from logcenter.web.security import CurrentUser

router = APIRouter(prefix="/api/v1/inbox", tags=["inbox"])


class InboxItemRead(BaseModel):
    id: int
    event_kind: str
    bug_id: int | None
    title: str
    facts: list[tuple[str, str]]
    text: str | None
    links: list[dict[str, str]]
    created_at: datetime
    read: bool
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxItemRead]
    unread: int = Field(description="the user's unread items in all (the header's badge)")
    next_before: int | None = Field(description="pass as `before` for the next (older) page")


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] | None = Field(default=None, max_length=500, description="these items")
    all: bool = Field(default=False, description="every unread item (up to `up_to` if given)")
    up_to: int | None = Field(default=None, ge=1, description="with `all`: items up to this id only")

    @model_validator(mode="after")
    def _one_of(self) -> MarkRead:
        if (self.ids is None) == (not self.all):
            raise ValueError("send either `ids` or `all: true`")
        return self


class Marked(BaseModel):
    marked: int
    unread: int


def to_read(item: InboxItem) -> InboxItemRead:
    message: dict[str, Any] = item.message or {}
    return InboxItemRead(
        id=item.id,
        event_kind=item.event_kind,
        bug_id=item.bug_id,
        title=item.title,
        facts=[(str(k), str(v)) for k, v in message.get("facts", [])],
        text=message.get("text"),
        links=list(message.get("links", [])),
        created_at=item.created_at,
        read=item.read_at is not None,
        read_at=item.read_at,
    )


@router.get("", response_model=InboxPage, summary="The logged-in user's message centre, newest first")
def list_inbox(
    session: SessionDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1)] = None,
    unread: Annotated[bool, Query(description="unread items only")] = False,
) -> InboxPage:
    rows = inbox.items(session, user.user_id, limit=limit, before=before, unread_only=unread)
    return InboxPage(
        items=[to_read(row) for row in rows],
        unread=inbox.unread_count(session, user.user_id),
        next_before=rows[-1].id if len(rows) == limit else None,
    )


@router.post("/read", response_model=Marked, summary="Mark items (or all) read")
def mark_read(body: MarkRead, session: SessionDep, user: CurrentUser) -> Marked:
    marked = inbox.mark_read(session, user.user_id, ids=body.ids, up_to=body.up_to if body.all else None)
    return Marked(marked=marked, unread=inbox.unread_count(session, user.user_id))
