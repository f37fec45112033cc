"""The HTTP/1.1 connection layer: uvicorn's httptools protocol, with read timeouts.

uvicorn closes an idle keep-alive connection (``timeout_keep_alive``) but never a request that
stalls: a client that sends half a request line, or announces a body and sends part of it,
holds its connection (and for a body, the request's task) for as long as it likes. uvicorn is
given ``GatewayHttpProtocol`` instead (``http=GatewayHttpProtocol``), which adds two clocks:

- **Headers**: a total deadline, ``http_header_timeout`` (10 s) from the connection's start
  for its first request, or from the first byte of each later request on it. A connection
  that sends nothing at all is closed at the same deadline, silently; one that started a
  request gets ``408 request_timeout`` first.
- **Body**: from the end of the headers until the body is complete, the connection is closed
  when no byte arrived for ``http_body_timeout`` (30 s), or when the body falls behind
  ``http_body_min_rate`` (500 B/s) after its first ``http_body_timeout`` seconds (a body of
  N bytes has ``http_body_timeout + N / http_body_min_rate`` seconds in all), so trickling a
  byte now and then does not hold a connection either. While uvicorn has paused reading
  because the app has not consumed what arrived, the client is not to blame: the clock
  starts over. The app, waiting in ``receive()``, sees ``http.disconnect``; the client gets
  ``408 request_timeout`` unless a response was already started.

A connection upgraded to a WebSocket leaves this protocol at once (uvicorn hands the transport
to its WebSocket protocol); neither clock runs for it.

The timeouts are the app's settings, read from the lifespan state (``HttpServices``), so the
one ``Settings`` configures both; a server without the gateway's lifespan uses the defaults.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any, Literal

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from gateway.http.services import STATE_KEY, HttpServices
from gateway.settings import Settings
from protocol.codes import HTTP_STATUS, ErrorCode

__all__ = ["GatewayHttpProtocol"]

log = logging.getLogger(__name__)

_DEFAULTS = Settings()


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's ``HttpToolsProtocol`` with header and body read timeouts (module docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        services: HttpServices | None = app_state.get(STATE_KEY)
        settings = _DEFAULTS if services is None else services.settings
        self._header_timeout = settings.http_header_timeout
        self._body_timeout = settings.http_body_timeout
        self._body_min_rate = settings.http_body_min_rate
        #: The loop time the current request's headers are due by; None once they are in.
        self._headers_due: float | None = None
        #: Whether bytes of a request arrived that do not make a whole request yet.
        self._request_started = False
        self._awaiting_body = False
        self._body_since = 0.0
        self._body_last = 0.0
        self._body_received = 0
        self._timer: asyncio.TimerHandle | None = None
        self._upgraded = False

    # -- connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_due = self.loop.time() + self._header_timeout
        self._timer = self.loop.call_at(self._headers_due, self._check)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # A timer only for a wait: a request that arrives whole in one read arms none.
        if self._timer is None and not self._upgraded and not self.transport.is_closing():
            if self._headers_due is not None:
                self._timer = self.loop.call_at(self._headers_due, self._check)
            elif self._awaiting_body:
                self._timer = self.loop.call_at(self._body_due(), self._check)

    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True
        self._cancel_timer()
        super().handle_websocket_upgrade()

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_started = True
        if self._headers_due is None:
            self._headers_due = self.loop.time() + self._header_timeout

    def on_headers_complete(self) -> None:
        self._headers_due = None
        self._cancel_timer()
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):
            self._awaiting_body = True
            self._body_since = self._body_last = self.loop.time()
            self._body_received = 0

    def on_body(self, body: bytes) -> None:
        self._body_last = self.loop.time()
        self._body_received += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._awaiting_body = False
        self._request_started = False
        self._cancel_timer()
        super().on_message_complete()

    # -- the clocks --------------------------------------------------------------------------

    def _body_due(self) -> float:
        idle = self._body_last + self._body_timeout
        slow = self._body_since + self._body_timeout + self._body_received / self._body_min_rate
        return min(idle, slow)

    def _check(self) -> None:
        """A deadline passed: close the connection if the client is still the one late."""
        self._timer = None
        if self.transport.is_closing() or self._upgraded:
            return
        now = self.loop.time()
        if self._headers_due is not None:
            if now < self._headers_due:
                self._timer = self.loop.call_at(self._headers_due, self._check)
                return
            self._time_out(
                "headers", f"request headers not received within {self._header_timeout:g} s"
            )
        elif self._awaiting_body:
            if self.flow.read_paused:
                # The app has not read what arrived yet: that wait is not the client's.
                self._body_since = self._body_last = now
                self._body_received = 0
            due = self._body_due()
            if now < due:
                self._timer = self.loop.call_at(due, self._check)
                return
            self._time_out("body", "the request body stalled or arrived too slowly")

    def _time_out(self, what: Literal["headers", "body"], message: str) -> None:
        log.debug("closing %s: %s", _peer(self.client), message)
        # The request being read is the body's cycle, or for headers one not built yet; a
        # 408 may go out only when nothing else is being written on the connection.
        cycle = self.cycle if what == "body" else None
        writing = (
            bool(self.pipeline)
            or (cycle is not None and cycle.response_started)
            or (cycle is None and self.cycle is not None and not self.cycle.response_complete)
        )
        if self._request_started and not writing:
            self.transport.write(_timeout_response(message))
        if cycle is not None and not cycle.response_complete:
            # The app waits in receive(): it gets http.disconnect, and what it sends is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _timeout_response(message: str) -> bytes:
    request_id = uuid.uuid4().hex
    body = orjson.dumps(
        {
            "error": {"code": ErrorCode.REQUEST_TIMEOUT, "message": message},
            "request_id": request_id,
        }
    )
    status = HTTP_STATUS[ErrorCode.REQUEST_TIMEOUT]
    return (
        f"HTTP/1.1 {status} Request Timeout\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {request_id}\r\n"
        "connection: close\r\n\r\n"
    ).encode() + body


def _peer(client: tuple[str, int] | None) -> str:
    return "a client" if client is None else f"{client[0]}:{client[1]}"
