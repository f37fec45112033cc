"""The gateway's one HTTP middleware: a request id on every request, the allowed hosts, the
CORS preflights, and no stack trace ever leaves.

The request id comes from ``X-Request-Id`` when the client sends a sane one, else it is
generated; it is echoed in the response header and in every error body. A request for a
``Host`` the gateway does not answer gets ``400`` (``http.hosts``; the probes excepted), a
preflight of a visitor route its CORS answer (``http.cors``); both carry the request id.
An exception that escapes a route is logged with its traceback and answered with a bare
``internal`` envelope; a client that went away while its body was read
(``ClientDisconnect``) is no error of ours and gets nothing.

These are one layer, not three: each ASGI layer is a coroutine call on every request and
every message sent, and a REST send passes Starlette's own three besides.
"""

from __future__ import annotations

import logging
import random
import re

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.cors import preflight
from gateway.http.hosts import PROBES, HostPolicy, host_allowed, refuse_host

__all__ = ["RequestContextMiddleware", "new_request_id"]

log = logging.getLogger(__name__)

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    """Args:
    app: the app within.
    hosts: the ``Host`` headers answered (``CHATGATE_ALLOWED_HOSTS``); None: any.
    preflights: answer the CORS preflights of the visitor routes (``http.cors``), which
        needs the gateway's lifespan state.
    """

    def __init__(
        self, app: ASGIApp, hosts: HostPolicy | None = None, *, preflights: bool = False
    ) -> None:
        self.app = app
        self._hosts = None if hosts is None or hosts.any_host else hosts
        self._preflights = preflights

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket" and self._refused(scope):
                await refuse_host(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            if self._refused(scope):
                await refuse_host(scope, receive, send_with_id)
                return
            if self._preflights and scope["method"] == "OPTIONS":
                response = await preflight(scope)
                if response is not None:
                    await response(scope, receive, send_with_id)
                    return
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

    def _refused(self, scope: Scope) -> bool:
        """Whether the request's ``Host`` is not one the gateway answers (probes answer any)."""
        return (
            self._hosts is not None
            and scope["path"] not in PROBES
            and not host_allowed(self._hosts, scope)
        )


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
