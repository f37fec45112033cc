"""The request-context middleware: request ids, and no traceback ever leaves."""

from __future__ import annotations

import logging

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.http.middleware import RequestContextMiddleware


async def broken(request: Request) -> Response:
    raise KeyError("internal secret")


async def fine(request: Request) -> Response:
    return PlainTextResponse(request.scope["state"]["request_id"])


def client() -> TestClient:
    app = Starlette(
        routes=[Route("/broken", broken), Route("/fine", fine)],
        middleware=[Middleware(RequestContextMiddleware)],
    )
    return TestClient(app, raise_server_exceptions=False)


def test_middleware_turns_an_escaped_exception_into_internal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception escaping a route answers the internal envelope, logged server-side."""
    with caplog.at_level(logging.ERROR), client() as http:
        response = http.get("/broken", headers={"X-Request-Id": "abc-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal", "message": "internal error"},
        "request_id": "abc-1",
    }
    assert "internal secret" not in response.text
    assert "KeyError" in caplog.text


def test_middleware_request_id_echoed_or_generated() -> None:
    """A sane X-Request-Id is kept; a missing or unsafe one is replaced."""
    with client() as http:
        kept = http.get("/fine", headers={"X-Request-Id": "trace:1.2_3-4"})
        assert kept.text == "trace:1.2_3-4" and kept.headers["x-request-id"] == "trace:1.2_3-4"
        for bad in ("", "a b", "x" * 200, "<script>"):
            replaced = http.get("/fine", headers={"X-Request-Id": bad})
            assert replaced.text != bad and len(replaced.text) == 32
        generated = http.get("/fine")
        assert generated.headers["x-request-id"] == generated.text
