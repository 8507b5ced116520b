"""The agent's HTTP client of the Log Center API, typed with the server's own pydantic schemas."""

from __future__ import annotations

import time
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from logcenter.bugs.schemas import BugDetail, BugEventRead, BugPage, BugRead, RepairReportRead
from logcenter.projects.schemas import ProjectRead
from logcenter.repair.schemas import (
    Claimed,
    ClaimedBug,
    ClaimIn,
    HeartbeatIn,
    LeaseResult,
    ProgressIn,
    ReleaseIn,
    RepairReportIn,
)

M = TypeVar("M", bound=BaseModel)
RETRIED = {502, 503, 504}


class ApiError(Exception):
    """The server refused or could not be reached; the message names the call and the answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, server: str, token: str | None, *, timeout: float = 30.0, retries: int = 3) -> None:
        headers = {"User-Agent": "logcenter-agent"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=server, headers=headers, timeout=timeout)
        self._retries = retries
        self.server = server

    def close(self) -> None:
        self._http.close()

    def _call(
        self, method: str, path: str, model: type[M], *, body: BaseModel | None = None, **params: Any
    ) -> M:
        json = body.model_dump(mode="json", exclude_none=True) if body is not None else None
        for attempt in range(self._retries + 1):
            try:
                response = self._http.request(method, path, json=json, params=params or None)
            except httpx.TransportError as exc:
                if attempt == self._retries:
                    raise ApiError(f"{method} {path}: server unreachable ({type(exc).__name__})") from exc
            else:
                if response.status_code not in RETRIED or attempt == self._retries:
                    break
            time.sleep(min(0.5 * 2**attempt, 5))
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(
                f"{method} {path}: HTTP {response.status_code}: {str(detail)[:500]}", response.status_code
            )
        return model.model_validate(response.json())

    def claim(self, *, agent: str, limit: int, lease: int, project: str | None) -> list[ClaimedBug]:
        body = ClaimIn(agent=agent, limit=limit, lease_seconds=lease, project_id=project)
        return self._call("POST", "/api/v1/agent/claim", Claimed, body=body).bugs

    def heartbeat(self, *, agent: str, bug_ids: list[int], lease: int) -> LeaseResult:
        body = HeartbeatIn(agent=agent, bug_ids=bug_ids, lease_seconds=lease)
        return self._call("POST", "/api/v1/agent/heartbeat", LeaseResult, body=body)

    def release(self, *, agent: str, bug_ids: list[int], note: str) -> LeaseResult:
        body = ReleaseIn(agent=agent, bug_ids=bug_ids, note=note[:10_000])
        return self._call("POST", "/api/v1/agent/release", LeaseResult, body=body)

    def progress(self, *, agent: str, bug_id: int, step: str, note: str) -> BugEventRead:
        body = ProgressIn(agent=agent, bug_id=bug_id, step=step, note=note[:2_000])
        return self._call("POST", "/api/v1/agent/progress", BugEventRead, body=body)

    def bug(self, bug_id: int, *, occurrences: int = 5) -> BugDetail:
        return self._call("GET", f"/api/v1/bugs/{bug_id}", BugDetail, occurrences=occurrences)

    def new_bugs(self, *, project: str | None, limit: int) -> list[BugRead]:
        params: dict[str, Any] = {"status": "NEW", "sort": "last_seen", "page_size": limit}
        if project:
            params["project_id"] = project
        return self._call("GET", "/api/v1/bugs", BugPage, **params).bugs

    def project(self, slug: str) -> ProjectRead:
        return self._call("GET", f"/api/v1/projects/{slug}", ProjectRead)

    def report(self, bug_id: int, report: RepairReportIn) -> RepairReportRead:
        return self._call("POST", f"/api/v1/bugs/{bug_id}/repair-reports", RepairReportRead, body=report)
