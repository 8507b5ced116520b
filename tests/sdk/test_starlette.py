"""The ASGI middleware in FastAPI and Starlette apps: reports 500s, keeps the app's responses."""

from __future__ import annotations

from collections.abc import Iterator

import logcenter_sdk
import pytest
from fastapi import FastAPI, HTTPException, Request, WebSocket
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from logcenter_sdk.integrations.fastapi import LogCenterMiddleware
from logcenter_sdk.integrations.starlette import LogCenterMiddleware as StarletteMiddleware
from starlette.applications import Starlette
from starlette.routing import Route

from tests.sdk.fake_server import FakeLogCenter


class OutOfStock(Exception):
    pass


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(LogCenterMiddleware)

    @app.get("/users/{user_id}")
    def get_user(user_id: str) -> dict[str, int]:
        return {"id": int(user_id)}  # ValueError for "abc": a bug

    @app.get("/missing")
    def missing() -> None:
        raise HTTPException(404, "no such thing")

    @app.get("/stock")
    def stock() -> None:
        raise OutOfStock("sku-1")

    @app.exception_handler(OutOfStock)
    async def out_of_stock(_: Request, exc: OutOfStock) -> JSONResponse:
        return JSONResponse({"detail": f"out of stock: {exc}"}, status_code=409)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        raise RuntimeError("socket handler failed")

    return app


@pytest.fixture
def http(fake_server: FakeLogCenter) -> Iterator[TestClient]:
    logcenter_sdk.init(fake_server.url, "shop_api", "test")
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        yield client


def test_an_unhandled_exception_is_reported_and_the_app_still_answers_500(
    http: TestClient, fake_server: FakeLogCenter
) -> None:
    response = http.get("/users/abc?token=secret")
    assert response.status_code == 500
    assert logcenter_sdk.flush(5)
    [request] = fake_server.wait_for(1)
    report = request.body
    assert report["project_id"] == "shop_api"
    assert report["error"]["type"] == "ValueError"
    assert report["error"]["file_path"].endswith("tests/sdk/test_starlette.py")
    assert report["context"] == {"url": "/users/abc", "method": "GET", "route": "/users/{user_id}"}


def test_responses_the_app_chose_are_not_reported(http: TestClient, fake_server: FakeLogCenter) -> None:
    assert http.get("/users/7").json() == {"id": 7}
    assert http.get("/missing").status_code == 404
    assert http.get("/stock").json() == {"detail": "out of stock: sku-1"}
    assert logcenter_sdk.flush(5)
    assert fake_server.requests == []


def test_the_apps_own_500_handler_still_builds_the_response(fake_server: FakeLogCenter) -> None:
    logcenter_sdk.init(fake_server.url, "shop_api", "test")
    app = make_app()

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": "Internal server error"}, status_code=500)

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/users/abc")
    assert (response.status_code, response.json()) == (500, {"detail": "Internal server error"})
    assert logcenter_sdk.flush(5)
    assert fake_server.wait_for(1)[0].body["error"]["type"] == "ValueError"


def test_the_exception_still_reaches_the_server_and_tests(fake_server: FakeLogCenter) -> None:
    logcenter_sdk.init(fake_server.url, "shop_api", "test")
    with TestClient(make_app()) as client, pytest.raises(ValueError):
        client.get("/users/abc")
    assert logcenter_sdk.flush(5)
    assert len(fake_server.wait_for(1)) == 1


def test_websocket_errors_are_reported(http: TestClient, fake_server: FakeLogCenter) -> None:
    with pytest.raises(RuntimeError), http.websocket_connect("/ws") as ws:
        ws.receive_text()
    assert logcenter_sdk.flush(5)
    [request] = fake_server.wait_for(1)
    assert request.body["context"] == {"url": "/ws", "method": "WEBSOCKET", "route": "/ws"}


def test_a_plain_starlette_app(fake_server: FakeLogCenter) -> None:
    async def boom(request: Request) -> JSONResponse:
        raise ZeroDivisionError("division by zero")

    logcenter_sdk.init(fake_server.url, "shop_api", "test")
    app = Starlette(routes=[Route("/boom", boom)])
    app.add_middleware(StarletteMiddleware)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    assert logcenter_sdk.flush(5)
    assert fake_server.wait_for(1)[0].body["error"]["type"] == "ZeroDivisionError"


def test_without_init_the_middleware_is_transparent() -> None:
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        assert client.get("/users/abc").status_code == 500
        assert client.get("/users/1").json() == {"id": 1}
