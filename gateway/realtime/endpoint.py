"""The WebSocket endpoint (``GET /ws``): handshake, ``hello``, then one frame at a time.

Under chatgate's own socket layer (``wire``) the session's frames go through the layer's
outlet, complete and built once per event; under any other ASGI server through a
``TaskOutlet`` on the ASGI ``send``. Everything else is the same ASGI code on both.

Like the REST routes, each op builds a command, dispatches it on the bus and encodes the
reply; subscriptions go through the registry. A session's frames are handled in order.
Failures of one frame answer an error reply and the connection carries on; only the
documented cases close it (see ``protocol.codes.CloseCode``).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET
from starlette.types import Receive, Scope, Send

from gateway.core.auth import Principal, origin_allowed
from gateway.core.bus import Context
from gateway.core.results import render
from gateway.core.rooms import conversation_channel
from gateway.media.attachments import base_url_of
from gateway.presence.redis import LeasesUnavailable
from gateway.realtime.outlet import Outlet
from gateway.realtime.revocation import close_code_of
from gateway.realtime.services import STATE_KEY, SocketServices
from gateway.realtime.session import PAGE, Session
from gateway.realtime.task_outlet import TaskOutlet
from gateway.realtime.wire import WIRE_EXTENSION
from protocol import commands as cmd
from protocol.codes import CloseCode, ErrorCode
from protocol.encoding import Codec, negotiate
from protocol.errors import Disconnect, GatewayError, ProtocolError
from protocol.frames import (
    ClientFrame,
    Hello,
    Ping,
    Subscribe,
    Unsubscribe,
    read_frame,
    reply_error,
    reply_ok,
)
from storage.base import StoredEvent

__all__ = ["SocketEndpoint"]

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 10.0


class SocketEndpoint:
    """The ASGI app mounted at ``/ws``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gateway: SocketServices = scope["state"][STATE_KEY]
        offered = list(scope.get("subprotocols") or [])
        codec = negotiate(offered)
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if codec is None:
            # Nothing offered is ours: refuse the handshake (the client sees HTTP 403).
            await send({"type": "websocket.close", "code": CloseCode.PROTOCOL_ERROR})
            return
        await send(
            {"type": "websocket.accept", "subprotocol": codec.subprotocol if offered else None}
        )
        connection = _Connection(gateway, codec, scope, receive, send)
        # The connection took what it needs of the handshake's headers (origin, base URL,
        # client address); the scope lives as long as the socket, its headers need not.
        scope["headers"] = []
        gateway.metrics.connections.inc()
        try:
            await connection.serve()
        finally:
            gateway.metrics.connections.dec()


@dataclass(eq=False)
class _Connection:
    gateway: SocketServices
    codec: Codec
    scope: Scope
    receive: Receive
    send: Send

    def __post_init__(self) -> None:
        self.session = Session(
            uuid.uuid4().hex, self.codec, self._outlet(), metrics=self.gateway.metrics
        )
        self.origin = _header(self.scope, b"origin")
        self.base_url = base_url_of(self.scope)
        self.address = self.gateway.clients.of(self.scope)
        self.client_gone = False
        self._frames = 0

    async def serve(self) -> None:
        session = self.session
        try:
            await session.run(self._read_loop)
        finally:
            self.gateway.credential_watch.discard(session)
            await self.gateway.registry.leave_all(session, session.channels)
            await self.gateway.presence.leave(session.id)
        if not self.client_gone:
            code = session.close_code or CloseCode.NORMAL
            await self._close(code, session.close_reason)

    # -- transport ------------------------------------------------------------------------

    def _outlet(self) -> Outlet:
        settings = self.gateway.settings
        metrics = self.gateway.metrics
        wire = self.scope.get("extensions", {}).get(WIRE_EXTENSION)
        if wire is not None:
            outlet: Outlet = wire(settings.send_queue_size, metrics.frames_out)
            return outlet
        tasked = TaskOutlet(
            self._send_frame,
            self.codec,
            queue_size=settings.send_queue_size,
            max_batch=settings.max_batch,
            metrics=metrics,
        )
        tasked.on_failure = self._write_failed
        return tasked

    def _write_failed(self) -> None:
        self.session.fail(CloseCode.INTERNAL_ERROR, "write failed")

    async def _send_frame(self, frame: str | bytes) -> None:
        if isinstance(frame, str):
            await self.send({"type": "websocket.send", "text": frame})
        else:
            await self.send({"type": "websocket.send", "bytes": frame})

    async def _close(self, code: int, reason: str) -> None:
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self.send({"type": "websocket.close", "code": code, "reason": reason[:120]})
        except Exception:
            # The peer may be gone (uvicorn raises ClientDisconnected, an OSError) or never
            # read again (the close frame cannot be written); either way we are done.
            log.debug("close of session %s not delivered", self.session.id)

    async def _receive_frame(self) -> str | bytes | None:
        """The next frame's payload, or None when the client went away."""
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            self.client_gone = True
            return None
        data: str | bytes | None = message.get("text")
        if data is None:
            data = message.get("bytes") or b""
        limit = self.gateway.settings.max_frame_bytes
        if len(data) > limit or (isinstance(data, str) and len(data.encode()) > limit):
            raise Disconnect(CloseCode.MESSAGE_TOO_BIG, f"frame larger than {limit} bytes")
        self.gateway.metrics.frames_in.inc()
        return data

    # -- reading --------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            if not await self._hello():
                return
            while (data := await self._receive_frame()) is not None:
                await self._on_frame(data)
        except Disconnect as exc:
            self.session.fail(exc.code, exc.reason)

    async def _hello(self) -> bool:
        try:
            async with asyncio.timeout(self.gateway.settings.hello_timeout):
                data = await self._receive_frame()
        except TimeoutError:
            raise Disconnect(CloseCode.UNAUTHENTICATED, "no hello in time") from None
        if data is None:
            return False
        try:
            frame = read_frame(self.codec.decode(data))
        except ProtocolError as exc:
            # Undecodable, or not an op frame at all: a protocol error. An op frame that is
            # not a valid hello (another op, no token): not authenticated.
            if exc.code is ErrorCode.BAD_REQUEST:
                raise Disconnect(CloseCode.PROTOCOL_ERROR, exc.message) from None
            raise Disconnect(CloseCode.UNAUTHENTICATED, f"hello required: {exc.message}") from None
        if not isinstance(frame.body, Hello):
            raise Disconnect(CloseCode.UNAUTHENTICATED, "the first frame must be hello")
        hello: Hello = frame.body
        try:
            principal = await self.gateway.authenticator.authenticate(hello.token)
        except GatewayError as exc:
            raise Disconnect(close_code_of(exc), exc.message) from None
        await self._check_origin(principal)
        self.session.principal = principal
        self.gateway.credential_watch.add(self.session)
        resumed = await self._watch_all(hello.resume)
        await self.session.send(
            reply_ok(
                frame.ref,
                {
                    "session_id": self.session.id,
                    "node": self.gateway.node_id,
                    "principal": _describe(principal),
                    "resume": {cid: outcome for cid, (outcome, _) in resumed.items()},
                },
            )
        )
        for cid, (_, after_seq) in resumed.items():
            if after_seq is not None:
                await self._follow(cid, after_seq)
        return True

    async def _check_origin(self, principal: Principal) -> None:
        if not principal.is_visitor:
            return
        assert principal.widget_id is not None
        widget = await self.gateway.store.get_widget(principal.org_id, principal.widget_id)
        if widget is None or not origin_allowed(self.origin, widget.allowed_origins):
            raise Disconnect(CloseCode.FORBIDDEN, "this origin may not use the widget")

    async def _watch_all(
        self, resume: dict[uuid.UUID, int]
    ) -> dict[str, tuple[dict[str, Any], int | None]]:
        """Check and join every conversation to resume, before the hello reply. The rooms
        are joined together: each waits for its broker subscription a bounded time, and
        those waits must not add up (see ``Registry.join``)."""
        joined = await asyncio.gather(
            *(self._watch(conversation_id) for conversation_id in resume), return_exceptions=True
        )
        outcomes: dict[str, tuple[dict[str, Any], int | None]] = {}
        for (conversation_id, after_seq), last_seq in zip(resume.items(), joined, strict=True):
            cid = str(conversation_id)
            if isinstance(last_seq, GatewayError):
                outcomes[cid] = ({"ok": False, "error": last_seq.to_wire()}, None)
            elif isinstance(last_seq, BaseException):
                raise last_seq
            else:
                outcomes[cid] = ({"ok": True, "last_seq": last_seq}, min(after_seq, last_seq))
        return outcomes

    async def _watch(self, conversation_id: uuid.UUID) -> int:
        """Authorize and join a conversation's room, buffering its live events; returns its
        last seq. ``Session.follow`` must come next."""
        conversation = await self._dispatch(cmd.WatchConversation(conversation_id))
        self.session.watch(conversation.id)
        try:
            await self.gateway.registry.join(self.session, conversation_channel(conversation.id))
        except GatewayError:
            del self.session.subscriptions[conversation.id]
            raise
        return int(conversation.last_seq)

    async def _follow(self, conversation_id: str, after_seq: int) -> None:
        """Replay after ``after_seq``, then go live (after ``_watch`` and its reply)."""

        async def read(after: int) -> list[StoredEvent]:
            command = cmd.ReadEvents(uuid.UUID(conversation_id), after, PAGE)
            events: list[StoredEvent] = await self._dispatch(command)
            return events

        try:
            await self.session.follow(conversation_id, after_seq, read)
        except GatewayError:
            # The subscription was already acknowledged and half replayed: rather than a
            # second reply to one ref, end the session; the client resumes by seq.
            raise Disconnect(CloseCode.INTERNAL_ERROR, "replay failed; resume later") from None

    async def _on_frame(self, data: str | bytes) -> None:
        ref = None
        try:
            frame = read_frame(self.codec.decode(data))
            ref = frame.ref
            await self._handle(frame)
        except ProtocolError as exc:
            await self.session.send(reply_error(exc.ref if ref is None else ref, exc))
        except GatewayError as exc:
            await self.session.send(reply_error(ref, exc))

    async def _handle(self, frame: ClientFrame) -> None:
        body = frame.body
        if isinstance(body, Hello):
            raise GatewayError(ErrorCode.BAD_REQUEST, "already authenticated")
        if isinstance(body, Ping):
            await self.session.send(reply_ok(frame.ref, {"pong": True}))
            return
        await self._still_standing()
        if isinstance(body, Subscribe):
            await self._subscribe(frame, body)
        elif isinstance(body, Unsubscribe):
            await self._unsubscribe(frame, body)
        else:
            # Commands count against the caller's rate limits; subscribing, pings and resume
            # never do (a reconnecting client must always be able to catch up).
            await self.gateway.limits.admit(self.session.principal, self.address)
            result = await self._dispatch(body)
            await self.session.send(reply_ok(frame.ref, render(result)))

    async def _still_standing(self) -> None:
        """Close the socket of a revoked API key or a disabled agent on its next frame
        (the credential watch closes idle ones)."""
        assert self.session.principal is not None
        try:
            await self.gateway.authenticator.credentials.check(self.session.principal)
        except GatewayError as exc:
            if exc.code in (ErrorCode.UNAUTHORIZED, ErrorCode.FORBIDDEN):
                raise Disconnect(close_code_of(exc), exc.message) from None
            raise

    async def _subscribe(self, frame: ClientFrame, body: Subscribe) -> None:
        if body.inbox:
            channel = await self._dispatch(cmd.WatchInbox())
            self.session.inbox_channel = channel
            await self.gateway.registry.join(self.session, channel)
            await self.session.send(reply_ok(frame.ref, {"inbox": True}))
            return
        assert isinstance(body.conversation_id, uuid.UUID)
        last_seq = await self._watch(body.conversation_id)
        after = last_seq if body.after_seq is UNSET else min(body.after_seq, last_seq)
        cid = str(body.conversation_id)
        reply: dict[str, Any] = {"conversation_id": cid, "last_seq": last_seq}
        if self.session.staff:
            reply["viewers"] = await self._viewers(cid)
        await self.session.send(reply_ok(frame.ref, reply))
        await self._follow(cid, after)

    async def _viewers(self, conversation_id: str) -> list[dict[str, Any]]:
        """Who has the conversation open already, for a staff subscribe (empty if presence
        is unavailable: the ``viewing`` events still come)."""
        try:
            viewers = await self.gateway.presence.viewers(conversation_id)
        except LeasesUnavailable:
            return []
        return [{"agent_id": v.agent_id, "name": v.name} for v in viewers]

    async def _unsubscribe(self, frame: ClientFrame, body: Unsubscribe) -> None:
        if body.inbox:
            channel, self.session.inbox_channel = self.session.inbox_channel, None
            if channel is not None:
                await self.gateway.registry.leave(self.session, channel)
            await self.session.send(reply_ok(frame.ref, {"inbox": False}))
            return
        cid = str(body.conversation_id)
        if self.session.subscriptions.pop(cid, None) is not None:
            await self.gateway.registry.leave(self.session, conversation_channel(cid))
        await self.session.send(reply_ok(frame.ref, {"conversation_id": cid}))

    async def _dispatch(self, command: Any) -> Any:
        self._frames += 1
        ctx = Context(
            self.session.principal,
            "ws",
            f"{self.session.id}:{self._frames}",
            session_id=self.session.id,
            origin=self.origin,
            base_url=self.base_url,
            client_address=self.address,
        )
        return await self.gateway.bus.dispatch(ctx, command)


def _describe(principal: Principal) -> dict[str, Any]:
    described: dict[str, Any] = {"kind": principal.kind, "org_id": principal.org_id}
    if principal.agent_id is not None:
        described["agent_id"] = principal.agent_id
        described["role"] = principal.role or "agent"
    if principal.contact_id is not None:
        described["contact_id"] = principal.contact_id
        described["widget_id"] = principal.widget_id
    return described


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
