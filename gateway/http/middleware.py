"""ASGI middleware: a request id on every HTTP request, and no stack trace ever leaves.

The request id comes from ``X-Request-Id`` when the client sends a sane one, else it is
generated; it is echoed in the response header and in every error body. An exception that
escapes a route is logged with its traceback and answered with a bare ``internal`` envelope;
a client that went away while its body was read (``ClientDisconnect``) is no error of ours
and gets nothing.
"""

from __future__ import annotations

import logging
import random
import re

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestContextMiddleware", "new_request_id"]

log = logging.getLogger(__name__)

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            log.debug(
                "client went away during %s %s (request %s)",
                scope["method"],
                scope["path"],
                request_id,
            )
        except Exception:
            log.exception(
                "unhandled error in %s %s (request %s)", scope["method"], scope["path"], request_id
            )
            if started:
                raise
            body = orjson.dumps(
                {
                    "error": {"code": "internal", "message": "internal error"},
                    "request_id": request_id,
                }
            )
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


#: The version (4) and variant bits of a random UUID, and the bits they take.
_UUID4_BITS = (4 << 76) | (2 << 62)
_UUID4_MASK = ~((0xF << 76) | (3 << 62))


def new_request_id() -> str:
    """A random UUID's hex, as ``uuid.uuid4().hex`` spells it, from the process's PRNG: a
    request id names a request in logs and is no secret, and ``uuid4`` (an ``os.urandom``
    system call and a ``UUID`` object) cost about 3 % of a REST send's time in the gateway."""
    return f"{random.getrandbits(128) & _UUID4_MASK | _UUID4_BITS:032x}"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SANE_ID.match(text) else None
    return None
