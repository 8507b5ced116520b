"""`/api/v1/notification-channels`: channels (admin only), their delivery log, and a test message."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from logcenter.auth.deps import Admin, Principal, authorize, touch_last_used
from logcenter.auth.models import Scope
from logcenter.db import session_scope
from logcenter.deps import SessionDep, SettingsDep
from logcenter.errors import LogCenterError
from logcenter.notify import probe, service
from logcenter.notify.schemas import (
    ChannelCreate,
    ChannelList,
    ChannelRead,
    ChannelUpdate,
    DeliveryList,
    TestResult,
)

router = APIRouter(prefix="/api/v1/notification-channels", tags=["notifications"])


def admin_outside_transaction(request: Request) -> Principal:
    """Admin check in a short read transaction of its own, for routes that then wait on the network: a
    request session would hold SQLite's write lock (and a PostgreSQL transaction) across the call."""
    with session_scope(request.app.state.session_factory, write=False) as session:
        row = authorize(session, request, (Scope.ADMIN,))
        principal = Principal.of(row)
    touch_last_used(request, principal.token_id)
    return principal


AdminNoTransaction = Annotated[Principal, Depends(admin_outside_transaction)]


class ChannelTestFailed(LogCenterError):
    status_code = 502

    def __init__(self, result: TestResult) -> None:
        super().__init__(f"The channel did not take the test message: {result.error}")
        self.result = result

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, **self.result.model_dump()}


@router.get("", response_model=ChannelList, summary="List notification channels")
def list_channels(session: SessionDep, settings: SettingsDep, _: Admin) -> ChannelList:
    return ChannelList(
        channels=[service.to_read(session, c, settings) for c in service.list_channels(session)]
    )


@router.post("", response_model=ChannelRead, status_code=201, summary="Create a notification channel")
def create_channel(body: ChannelCreate, session: SessionDep, settings: SettingsDep, _: Admin) -> ChannelRead:
    return service.to_read(session, service.create(session, data=body, settings=settings), settings)


@router.get(
    "/{channel_id}", response_model=ChannelRead, summary="A notification channel (without its secrets)"
)
def get_channel(channel_id: int, session: SessionDep, settings: SettingsDep, _: Admin) -> ChannelRead:
    return service.to_read(session, service.get(session, channel_id), settings)


@router.put("/{channel_id}", response_model=ChannelRead, summary="Change a notification channel")
def update_channel(
    channel_id: int, body: ChannelUpdate, session: SessionDep, settings: SettingsDep, _: Admin
) -> ChannelRead:
    channel = service.update(session, channel_id, data=body, settings=settings)
    return service.to_read(session, channel, settings)


@router.delete("/{channel_id}", status_code=204, summary="Remove a notification channel and its log")
def delete_channel(channel_id: int, session: SessionDep, _: Admin) -> Response:
    service.delete(session, channel_id)
    return Response(status_code=204)


@router.get("/{channel_id}/deliveries", response_model=DeliveryList, summary="A channel's delivery log")
def list_deliveries(
    channel_id: int,
    session: SessionDep,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, description="only deliveries with a smaller id")] = None,
    status: Annotated[str | None, Query(pattern="^(queued|retrying|sent|failed)$")] = None,
) -> DeliveryList:
    rows = service.deliveries(session, channel_id, limit=limit, before=before, status=status)
    return DeliveryList(
        deliveries=[service.delivery_read(d) for d in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )


@router.post(
    "/{channel_id}/test",
    response_model=TestResult,
    summary="Send a test message now",
    responses={502: {"description": "The channel refused the message or could not be reached"}},
)
async def test_channel(channel_id: int, request: Request, _: AdminNoTransaction) -> TestResult:
    result = await run_in_threadpool(
        probe.send_test, request.app.state.session_factory, channel_id, settings=request.app.state.settings
    )
    if not result.delivered:
        raise ChannelTestFailed(result)
    return result
