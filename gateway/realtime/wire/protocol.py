"""``SocketProtocol``: chatgate's uvicorn WebSocket protocol (``ws=SocketProtocol``).

uvicorn's HTTP protocol hands a connection to this class when a request asks to upgrade to
WebSocket; Starlette and uvicorn keep serving HTTP on the same port. On ``websockets``'
sans-I/O ``ServerProtocol`` it answers the handshake, reads frames (reassembling fragmented
messages, answering pings between their fragments, enforcing ``ws_max_size`` on a whole
message), and runs the closing handshake. The app sees the ASGI WebSocket messages it sees
under any server (so the host check, routing and handshake refusals stay the app's), plus
``WIRE_EXTENSION``: a factory of ``TransportOutlet``, through which the app writes complete
frames, built once per event, straight to the transport.

Per connection it keeps no queue, event or timer of its own while idle: received messages
wait in a deque the app's ``receive`` drains, writes go through the outlet (or, for the
handshake and control frames, straight to the transport), and keepalive pings come from the
process's ``Keepalive``. A closing handshake the peer does not finish within
``CLOSE_TIMEOUT`` seconds ends with the connection dropped.
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import Any, Final, cast
from urllib.parse import unquote

from prometheus_client import Counter
from uvicorn.config import Config
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl
from uvicorn.server import ServerState
from websockets.datastructures import Headers
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import OPEN, Protocol
from websockets.server import ServerProtocol

from gateway.realtime.wire.keepalive import Keepalive, keepalive
from gateway.realtime.wire.outlet import WIRE_EXTENSION, TransportOutlet, flusher

__all__ = ["SocketProtocol"]

log = logging.getLogger(__name__)
#: What ``websockets`` logs: it says "connection open" at INFO for every socket, a log line
#: per connect (4 % of a reconnect storm's CPU). Quiet below WARNING unless the gateway logs
#: at DEBUG.
_ws_log = logging.getLogger(f"{__name__}.websockets")

#: Seconds the peer has to answer our close frame before the connection is dropped.
CLOSE_TIMEOUT: Final = 10.0
#: Received messages the app has not read yet before reading from the socket pauses.
READ_AHEAD: Final = 8
#: The limit of an outlet the app did not ask for (an app that only uses ``websocket.send``).
UNBOUNDED: Final = 1 << 30
_STATUS_PHRASES: Final = {s.value: s.phrase for s in HTTPStatus}

Message = dict[str, Any]


class SocketProtocol(asyncio.Protocol):
    """One WebSocket connection, from the upgrade request to the closed socket."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self._config = config
        self._state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_event_loop()
        if _ws_log.level == logging.NOTSET:
            _ws_log.setLevel(logging.DEBUG if log.isEnabledFor(logging.DEBUG) else logging.WARNING)
        self._ws = ServerProtocol(max_size=config.ws_max_size, logger=_ws_log)
        self._transport: asyncio.Transport | None = None
        #: The 101 response the app's ``websocket.accept`` completes and sends.
        self._response: Response | None = None
        #: An HTTP response the app is sending instead of accepting: (status, headers, body).
        self._refusal: tuple[int, list[tuple[str, str]], bytes] | None = None
        self._handshake_done = False
        self._close_sent = False
        self._gone = False
        #: Messages the app has not received yet (a list: rarely more than one, and a
        #: deque's first block alone is over 500 bytes per connection).
        self._inbox: list[Message] = []
        self._waiter: asyncio.Future[None] | None = None
        self._read_paused = False
        self._write_paused = False
        self._fragments: list[bytes] = []
        self._text = False
        self._outlet: TransportOutlet | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._keepalive: Keepalive | None = None
        #: The payload of the ping waiting for its pong, and when it left.
        self.ping: bytes | None = None
        self.ping_at = 0.0

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._state.connections.add(self)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self._gone = True
        self._state.connections.discard(self)
        if self._keepalive is not None:
            self._keepalive.discard(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._outlet is not None:
            self._outlet.drop()
        code = 1005 if self._handshake_done and self._refusal is None else 1006
        self._deliver({"type": "websocket.disconnect", "code": code})

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._outlet is not None:
            self._outlet.pause()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._outlet is not None:
            self._outlet.resume()

    def data_received(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        if ws.handshake_exc is not None and self._response is None and not self._handshake_done:
            self._bad_request()
            return
        for event in ws.events_received():
            if isinstance(event, Request):
                self._on_request(event)
            elif isinstance(event, Frame):
                self._on_frame(event)
        if ws.parser_exc is not None:
            # A protocol violation: websockets queued the close frame (1002, 1007, 1009).
            self._after_failure()
            return
        self._write_control()

    # -- uvicorn's server ----------------------------------------------------------------------

    def shutdown(self) -> None:
        """The server is stopping: close with 1012 (service restart), or refuse with 500 a
        handshake the app has not answered yet."""
        if self._close_sent or self._transport is None:
            if self._transport is not None:
                self._transport.close()
            return
        if self._handshake_done and self._refusal is None:
            self._deliver({"type": "websocket.disconnect", "code": 1012})
            self._send_close(1012, "")
        else:
            self._respond(self._ws.reject(HTTPStatus.INTERNAL_SERVER_ERROR, ""))
        self._transport.close()

    # -- handshake ---------------------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        version = request.headers.get("Sec-WebSocket-Version")
        if version is not None and version.strip() != "13":
            # RFC 6455 4.2.2: name the version we speak (websockets answers a bare 400).
            refusal = self._ws.reject(
                HTTPStatus.UPGRADE_REQUIRED, "Unsupported WebSocket version\n"
            )
            refusal.headers["Sec-WebSocket-Version"] = "13"
            self._respond(refusal)
            return
        response = self._ws.accept(request)
        if response.status_code != 101:
            self._respond(response)
            return
        self._response = response
        transport = self._transport
        assert transport is not None
        path, _, query = request.path.partition("?")
        root = self._config.root_path
        subprotocols = [
            token.strip()
            for header in request.headers.get_all("Sec-WebSocket-Protocol")
            for token in header.split(",")
        ]
        scope = {
            "type": "websocket",
            "asgi": {"version": self._config.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": "wss" if is_ssl(transport) else "ws",
            "server": get_local_addr(transport),
            "client": get_remote_addr(transport),
            "root_path": root,
            "path": root + unquote(path),
            "raw_path": root.encode("ascii") + path.encode("ascii"),
            "query_string": query.encode("ascii"),
            "headers": [
                (name.lower().encode("ascii"), value.encode("latin-1"))
                for name, value in request.headers.raw_items()
            ],
            "subprotocols": subprotocols,
            "state": self._app_state.copy(),
            "extensions": {"websocket.http.response": {}, WIRE_EXTENSION: self._open_outlet},
        }
        self._inbox.append({"type": "websocket.connect"})
        task = self._loop.create_task(self._run(scope))
        self._state.tasks.add(task)
        task.add_done_callback(self._state.tasks.discard)

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self._config.loaded_app(scope, self.receive, self.send)
        except ConnectionResetError:
            pass  # ``send`` after the client went away: nothing to tell anyone
        except Exception:
            log.exception("the socket app failed")
        else:
            if not self._handshake_done:
                log.error("the socket app returned without answering the handshake")
        if not self._handshake_done and not self._gone:
            self._respond(self._ws.reject(HTTPStatus.INTERNAL_SERVER_ERROR, ""))
        if self._close_timer is None and self._transport is not None:
            self._transport.close()

    def _accept(self, message: Message) -> None:
        response = self._response
        assert response is not None and self._transport is not None
        self._handshake_done = True
        del response.headers["Date"]
        for name, value in self._state.default_headers + list(message.get("headers", [])):
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
        if subprotocol := message.get("subprotocol"):
            response.headers["Sec-WebSocket-Protocol"] = subprotocol
        if self._transport.is_closing():
            return
        self._ws.send_response(response)
        self._write_control()
        self._response = None
        _forget_request(self._ws)
        self._keepalive = keepalive(self._loop, self._config)
        if self._keepalive is not None:
            self._keepalive.add(self)

    def _respond(self, response: Response) -> None:
        """Answer the upgrade request with an HTTP response, and close."""
        self._handshake_done = True
        self._close_sent = True
        self._ws.send_response(response)
        self._write_control()
        if self._transport is not None:
            self._transport.close()

    def _bad_request(self) -> None:
        """websockets could not parse the request: it queued a 414/431 for a limit it
        exceeded, nothing otherwise (then 400)."""
        self._handshake_done = True
        self._close_sent = True
        output = b"".join(self._ws.data_to_send())
        if not output:
            output = self._ws.reject(400, "Failed to open a WebSocket connection.\n").serialize()
        assert self._transport is not None
        self._transport.write(output)
        self._transport.close()

    def _open_outlet(self, limit: int, frames_out: Counter | None = None) -> TransportOutlet:
        """The ``WIRE_EXTENSION``: the outlet the app writes this socket's frames to."""
        assert self._transport is not None
        self._outlet = TransportOutlet(
            self._transport,
            flusher(self._loop),
            limit=limit,
            frames_out=frames_out,
            paused=self._write_paused,
        )
        return self._outlet

    # -- reading -----------------------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._text = opcode is Opcode.TEXT
            self._fragments = [frame.data]  # type: ignore[list-item]
        elif opcode is Opcode.CONT:
            self._fragments.append(frame.data)  # type: ignore[arg-type]
        elif opcode is Opcode.PONG:
            if self.ping is not None and bytes(frame.data) == self.ping:
                self.ping = None
            return
        elif opcode is Opcode.CLOSE:
            self._on_close()
            return
        else:
            return  # PING: websockets queued the pong; it goes out with the other replies
        if frame.fin:
            self._on_message()

    def _on_message(self) -> None:
        fragments, self._fragments = self._fragments, []
        data = fragments[0] if len(fragments) == 1 else b"".join(fragments)
        if self._close_sent:
            return  # the app is past ``websocket.close``: only the peer's close matters now
        if not self._text:
            self._deliver({"type": "websocket.receive", "bytes": bytes(data)})
            return
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError:
            self._ws.fail(1007, "invalid UTF-8")
            self._after_failure()
            return
        self._deliver({"type": "websocket.receive", "text": text})

    def _on_close(self) -> None:
        assert self._transport is not None
        if self._close_sent:
            # The peer answered our close frame: the closing handshake is complete.
            if self._close_timer is not None:
                self._close_timer.cancel()
                self._close_timer = None
            self._transport.close()
            return
        received = self._ws.close_rcvd
        code = 1005 if received is None else received.code
        reason = "" if received is None else received.reason
        self._deliver({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._close_sent = True  # websockets queued the echo
        self._flush_outlet()
        self._write_control()
        self._transport.close()

    def _after_failure(self) -> None:
        """websockets failed the connection (``ServerProtocol.fail``, or its parser did): tell
        the app, write the close frame it queued, and drop the connection."""
        sent = self._ws.close_sent
        code = 1006 if sent is None else sent.code
        reason = "" if sent is None else sent.reason
        self._deliver({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._close_sent = True
        self._write_control()
        if self._transport is not None:
            self._transport.close()

    def _deliver(self, message: Message) -> None:
        self._inbox.append(message)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(self._inbox) >= READ_AHEAD and not self._read_paused and not self._gone:
            assert self._transport is not None
            self._read_paused = True
            self._transport.pause_reading()

    # -- the app's side (ASGI) ---------------------------------------------------------------

    async def receive(self) -> Message:
        while not self._inbox:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = self._inbox.pop(0)
        if self._read_paused and len(self._inbox) < READ_AHEAD // 2 and not self._gone:
            assert self._transport is not None
            self._read_paused = False
            self._transport.resume_reading()
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if self._gone:
            raise ConnectionResetError("the WebSocket client went away")
        if not self._handshake_done:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._deliver({"type": "websocket.disconnect", "code": 1006})
                self._respond(self._ws.reject(HTTPStatus.FORBIDDEN, ""))
            elif kind == "websocket.http.response.start":
                headers = [
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in message.get("headers", [])
                ]
                self._refusal = (message["status"], headers, b"")
                self._handshake_done = True
            else:
                raise RuntimeError(f"unexpected ASGI message {kind!r} before the handshake")
        elif self._refusal is not None:
            if kind != "websocket.http.response.body":
                raise RuntimeError(f"unexpected ASGI message {kind!r} in an HTTP response")
            status, headers, body = self._refusal
            body += message.get("body", b"")
            self._refusal = (status, headers, body)
            if not message.get("more_body", False):
                self._send_refusal(status, headers, body)
        elif self._close_sent:
            return  # closing: nothing more goes out
        elif kind == "websocket.send":
            outlet = self._outlet or self._open_outlet(UNBOUNDED)
            payload = message.get("bytes")
            await outlet.put(outlet.frame_of(message["text"] if payload is None else payload))
        elif kind == "websocket.close":
            self.close(message.get("code", 1000), message.get("reason") or "")
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake: what the app sent goes first, then the close frame;
        the peer has ``CLOSE_TIMEOUT`` seconds to answer."""
        if self._close_sent or self._gone:
            return
        self._deliver({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._send_close(code, reason)
        if self._read_paused and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()
        self._close_timer = self._loop.call_later(CLOSE_TIMEOUT, self._close_expired)

    def _send_close(self, code: int, reason: str) -> None:
        self._close_sent = True
        self._flush_outlet()
        try:
            self._ws.send_close(code, reason)
        except InvalidState:
            return
        self._write_control()

    def _flush_outlet(self) -> None:
        """Before a close frame: what the app sent goes first, into a paused transport too
        (its buffer takes it; a peer that never reads is dropped by the close timer)."""
        if self._outlet is not None:
            self._outlet.flush(force=True)
            self._outlet.close()

    def _close_expired(self) -> None:
        self._close_timer = None
        if self._transport is not None:
            self._transport.abort()

    def _send_refusal(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        response_headers = Headers(headers)
        response_headers.setdefault("Connection", "close")
        response_headers.setdefault("Content-Length", str(len(body)))
        response_headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        self._deliver({"type": "websocket.disconnect", "code": 1006})
        self._respond(Response(status, _STATUS_PHRASES.get(status, ""), response_headers, body))

    # -- writing -----------------------------------------------------------------------------

    def _write_control(self) -> None:
        """Write what websockets queued (the handshake, pongs, close frames); an empty chunk
        is its signal that the connection should end."""
        chunks = self._ws.data_to_send()
        if not chunks or self._transport is None:
            return
        data = b"".join(chunks)
        if data and not self._transport.is_closing():
            self._transport.write(data)

    # -- keepalive (called by ``Keepalive``) ---------------------------------------------------

    def send_ping(self, payload: bytes, now: float) -> None:
        if self._close_sent or self._gone:
            return
        self.ping = payload
        self.ping_at = now
        self._ws.send_ping(payload)
        self._write_control()

    def ping_expired(self) -> None:
        """No pong in time: close with 1011 and drop the connection."""
        if self._close_sent or self._gone:
            return
        self._ws.fail(1011, "keepalive ping timeout")
        self._after_failure()


def _forget_request(ws: ServerProtocol) -> None:
    """Let the handshake request go: ``ServerProtocol``'s parser keeps it (its headers, a
    kilobyte or two) in its frame for the connection's whole life, parsing frames in a
    generator it delegates to. With nothing buffered that generator waits at a frame's first
    byte, so a fresh frame parser takes over where it stands (websockets swaps its parser
    the same way when a connection closes)."""
    if ws.state is OPEN and not ws.reader.buffer and ws.parser_exc is None:
        ws.parser = Protocol.parse(ws)
        next(ws.parser)
