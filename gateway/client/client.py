"""``Client``: one socket to a gateway, kept up, and the conversations it follows.

Guarantees (docs/client-python.md), the JavaScript SDK's rules:

- every stored event (``NewMessage``, ``ConversationUpdated``) of a followed conversation is
  handed out once, in seq order, whether it came live, batched, replayed by a resume, as the
  reply to our own send, or by REST backfill;
- a drop is followed by reconnects with capped exponential backoff and full jitter, and a
  ``hello`` that resumes every followed conversation from the last seq handed out; close
  4001, 4003 and 4400 stop it (4001 asks a token provider for a new token once first);
- a gap in seq on a live socket is filled over REST before anything after it is handed out;
- ``send`` retries after a drop with the same ``client_message_id``, so it is stored once.

Volatile events (``Typing``, ``Read``, ``MessageDelta``) and the inbox's are handed out as
they come, never replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, cast

import httpx2 as httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from gateway.client.backfill import backfill
from gateway.client.backoff import Backoff
from gateway.client.connection import Connection
from gateway.client.errors import CLOSED, DISCONNECTED, TIMEOUT, ClientError
from gateway.client.events import Event, event_frame, parse_event
from gateway.client.rest import RestClient
from gateway.client.seqlog import SeqLog
from gateway.client.types import Conversation, Hello, JSONObject, Message
from protocol.codes import CloseCode, ErrorCode
from protocol.encoding import JSON, MSGPACK

__all__ = ["Client", "ClientState", "TokenProvider"]

log = logging.getLogger("chatgate.client")

#: ``async (refresh) -> token``: called before each connection; ``refresh`` is true after
#: the gateway refused the last token (close 4001).
TokenProvider = Callable[[bool], Awaitable[str]]

#: ``hello`` resumes at most this many conversations (protocol/frames.py ``MAX_RESUME``);
#: the others are subscribed right after it.
MAX_RESUME = 100
#: Close codes after which reconnecting cannot help.
_REFUSALS = frozenset({CloseCode.UNAUTHENTICATED, CloseCode.FORBIDDEN, CloseCode.PROTOCOL_ERROR})
#: Send failures that a later attempt with the same ``client_message_id`` may fix.
_CUT_OFF = frozenset({DISCONNECTED, TIMEOUT})


class ClientState(StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(slots=True)
class _Followed:
    """A conversation followed with ``subscribe``."""

    id: str
    log: SeqLog
    #: As last seen in a ``conversation.updated`` (backfill's diff starts from it).
    conversation: Conversation | None = None
    backfill: asyncio.Task[None] | None = None
    retries: Backoff = field(default_factory=Backoff)


class Client:
    """A gateway connection for a bot or an integration.

    Use it as ``async with Client(url, token) as client:`` (connects, and closes at the end)
    and read ``client.events()``.

    Args:
        url: the gateway, ``http(s)://HOST:PORT`` (the socket is ``ws(s)://HOST:PORT/ws``).
        token: a visitor, agent or bot token, an API key, or a ``TokenProvider``.
        codec: the subprotocol, ``json`` (text frames) or ``msgpack`` (binary frames).
        backoff: reconnect delays (default: 0.5 s doubling up to 30 s, full jitter).
        request_timeout: seconds to wait for a reply; the socket is then given up.
        max_queued_events: events waiting for ``events()``; when full the socket is not
            read until there is room (the gateway may then close it with 4008, and the
            client resumes).
        http: an ``httpx2.AsyncClient`` for REST (backfill and ``rest``) to share.
        socket_url: the socket's URL when it is not ``url`` + ``/ws`` (a proxy).
    """

    def __init__(
        self,
        url: str,
        token: str | TokenProvider,
        *,
        codec: Literal["json", "msgpack"] = "json",
        backoff: Backoff | None = None,
        request_timeout: float = 10.0,
        max_queued_events: int = 10_000,
        http: httpx.AsyncClient | None = None,
        socket_url: str | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.socket_url = socket_url or base.replace("http", "ws", 1) + "/ws"
        self._token_source = token
        self._token: str | None = token if isinstance(token, str) else None
        self._codec = MSGPACK if codec == "msgpack" else JSON
        self._backoff = backoff or Backoff()
        self._timeout = request_timeout
        self.rest = RestClient(base, self._current_token, http=http, timeout=request_timeout)
        self._events: asyncio.Queue[Event] = asyncio.Queue(max_queued_events)
        self._followed: dict[str, _Followed] = {}
        self._resumed: dict[str, int] = {}
        self._inbox = False
        self._state = ClientState.IDLE
        self._conn: Connection | None = None
        self._hello: Hello | None = None
        self._error: ClientError | None = None
        self._open = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._hello_seen = False

    # -- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def session(self) -> Hello | None:
        """The last ``hello`` reply while open, else ``None``."""
        return self._hello

    async def connect(self) -> Hello:
        """Starts the connection (kept up until ``aclose``) and returns the first ``hello``.

        Raises:
            ClientError: ``unauthorized``, ``forbidden`` or ``bad_request`` (``close_code``
                4001, 4003, 4400) when the gateway refused the client; ``closed``.
        """
        if self._runner is None or self._runner.done():
            self._error = None
            self._backoff.reset()
            self._set_state(ClientState.CONNECTING)
            self._runner = asyncio.create_task(self._run(), name="chatgate-client")
        await self._wait_open()
        assert self._hello is not None
        return self._hello

    async def aclose(self) -> None:
        """Closes the socket and stops reconnecting; pending calls fail with ``closed``.
        Subscriptions are kept: a later ``connect()`` resumes them."""
        self._stop(ClientError(CLOSED, "the client was closed"))
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        for followed in self._followed.values():
            await _cancel(followed.backfill)
        await self.rest.aclose()

    # -- what the caller reads --------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Every event, in order (stored ones once each, by seq per conversation).

        Ends after ``aclose()``. Raises ``ClientError`` when the gateway refused the client
        (after the events already received).
        """
        while True:
            if self._events.empty() and self._state is ClientState.CLOSED:
                if self._error is not None and self._error.code != CLOSED:
                    raise self._error
                return
            getter = asyncio.ensure_future(self._events.get())
            stopped = asyncio.ensure_future(self._wait_state(ClientState.CLOSED))
            await asyncio.wait({getter, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if getter.done():
                yield getter.result()
            else:
                getter.cancel()

    async def next_event(self) -> Event:
        """The next event (wrap it in ``asyncio.timeout`` to bound the wait)."""
        async for event in self.events():
            return event
        raise self._error or ClientError(CLOSED, "the client was closed")

    # -- conversations ----------------------------------------------------------------------

    def follow(self, conversation_id: str, *, after_seq: int = 0) -> None:
        """Follows a conversation from ``after_seq`` without waiting: before ``connect()``
        it goes into the first ``hello``'s resume."""
        followed = self._followed.get(conversation_id)
        if followed is None:
            self._followed[conversation_id] = _Followed(conversation_id, SeqLog(after_seq))
        elif followed.log.last_seq != after_seq:
            followed.log.reset(after_seq)

    async def subscribe(self, conversation_id: str, *, after_seq: int = 0) -> int:
        """Follows a conversation: its events after ``after_seq`` (0: all), then live ones,
        kept across reconnects. Returns the conversation's last seq at the gateway.

        Raises:
            ClientError: ``not_found`` (not yours, or no such conversation), ``closed``.
        """
        self.follow(conversation_id, after_seq=after_seq)
        while True:
            conn = await self._wait_open()
            followed = self._followed.get(conversation_id)
            if followed is None:
                raise ClientError(CLOSED, f"conversation {conversation_id} was unsubscribed")
            fields = {"conversation_id": conversation_id, "after_seq": followed.log.last_seq}
            try:
                data = await conn.request("subscribe", fields)
            except ClientError as error:
                if error.code in _CUT_OFF:
                    continue
                self._forget(conversation_id)
                raise
            return int(data["last_seq"])

    async def unsubscribe(self, conversation_id: str) -> None:
        followed = self._forget(conversation_id)
        if followed is not None and self._conn is not None and self._open.is_set():
            with contextlib.suppress(ClientError):
                await self._conn.request("unsubscribe", {"conversation_id": conversation_id})

    async def subscribe_inbox(self) -> None:
        """Staff: ``ConversationCreated`` and ``ConversationUpdated`` of the whole org (no
        replay: after a reconnect, list conversations over REST)."""
        self._inbox = True
        await self.request("subscribe", {"inbox": True})

    async def unsubscribe_inbox(self) -> None:
        self._inbox = False
        if self._open.is_set():
            await self.request("unsubscribe", {"inbox": True})

    def last_seq(self, conversation_id: str) -> int | None:
        """The highest seq handed out, in order, for a followed conversation."""
        followed = self._followed.get(conversation_id)
        return None if followed is None else followed.log.last_seq

    # -- ops --------------------------------------------------------------------------------

    async def send(
        self,
        conversation_id: str,
        content: str,
        *,
        client_message_id: str | None = None,
        epoch: int | None = None,
        role: str | None = None,
        metadata: JSONObject | None = None,
        attachments: list[JSONObject] | None = None,
    ) -> Message:
        """Sends a message; returns it stored, with its ``seq``.

        A bot passes the conversation's ``epoch``; ``role`` is for API keys only (``agent``
        by default, ``bot``, ``visitor``, ``live_agent``): a token's role is its own.

        Waits for a connection; a send cut off by a drop (or a reply that never came) is
        sent again after the next ``hello`` with the same ``client_message_id`` (made here
        when not given), so it is stored once; ``unavailable`` is retried with backoff.

        Raises:
            ClientError: the gateway's refusal (``control_lost``, ``invalid_state``,
                ``validation_error``, ``rate_limited``, ...), ``payload_too_large``,
                ``closed``.
        """
        fields: JSONObject = {
            "conversation_id": conversation_id,
            "content": content,
            "client_message_id": client_message_id or str(uuid.uuid4()),
        }
        optional = {"epoch": epoch, "role": role, "metadata": metadata, "attachments": attachments}
        fields.update({name: value for name, value in optional.items() if value is not None})
        retries = Backoff(self._backoff.initial, self._backoff.cap, self._backoff.factor)
        while True:
            conn = await self._wait_open()
            try:
                message = cast(Message, await conn.request("message.send", fields))
            except ClientError as error:
                if error.code in _CUT_OFF:
                    continue
                if error.code == ErrorCode.UNAVAILABLE:
                    await asyncio.sleep(retries.next())
                    continue
                raise
            await self._replied(message)
            return message

    async def update_conversation(
        self,
        conversation_id: str,
        *,
        status: str | None = None,
        assignee_id: str | None = None,
        epoch: int | None = None,
    ) -> Conversation:
        fields: JSONObject = {"conversation_id": conversation_id}
        for name, value in (("status", status), ("assignee_id", assignee_id), ("epoch", epoch)):
            if value is not None:
                fields[name] = value
        return cast(Conversation, await self.request("conversation.update", fields))

    async def typing(self, conversation_id: str, on: bool) -> None:
        """Says whether you are typing (volatile: dropped when not connected)."""
        if self._open.is_set():
            with contextlib.suppress(ClientError):
                await self.request("typing", {"conversation_id": conversation_id, "on": on})

    async def read(self, conversation_id: str, seq: int) -> int:
        """Marks the conversation read up to ``seq``; returns the read mark the gateway
        keeps (never lower than before, clamped to the last seq)."""
        data = await self.request("read", {"conversation_id": conversation_id, "seq": seq})
        return int(data["seq"])

    async def request(self, op: str, fields: JSONObject) -> Any:
        """Any op but ``hello`` on the current socket; returns the reply's ``data``.

        Raises:
            ClientError: the gateway's error reply; ``disconnected`` when not open or when
                the socket drops first; ``timeout``.
        """
        conn = self._conn
        if conn is None or not self._open.is_set():
            raise ClientError(DISCONNECTED, f"not connected ({self._state})")
        return await conn.request(op, fields)

    # -- the connection loop ----------------------------------------------------------------

    async def _run(self) -> None:
        refresh = False
        refusals = 0
        while True:
            code, reason = await self._session(refresh)
            refresh = False
            if code in _REFUSALS:
                provider = not isinstance(self._token_source, str)
                if code == CloseCode.UNAUTHENTICATED and provider and refusals == 0:
                    refusals += 1
                    refresh = True
                    continue  # once: a provider whose new token is refused too would loop
                self._stop(ClientError.from_close(code, reason))
                return
            if self._hello_seen:
                refusals = 0
            delay = self._backoff.next()
            log.info("chatgate: socket closed (%s %s), reconnecting in %.2f s", code, reason, delay)
            self._set_state(ClientState.RECONNECTING)
            await asyncio.sleep(delay)
            self._set_state(ClientState.CONNECTING)

    async def _session(self, refresh: bool) -> tuple[int, str]:
        """One connection attempt, until its socket closes: (close code, reason)."""
        self._hello_seen = False
        try:
            token = await self._get_token(refresh)
            ws = await ws_connect(
                self.socket_url,
                subprotocols=[self._codec.subprotocol],  # type: ignore[list-item]
                compression=None,
                max_size=None,
                open_timeout=self._timeout,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                return CloseCode.FORBIDDEN, f"the handshake was refused ({status})"
            return 1006, f"the handshake was answered {status}"
        except (OSError, InvalidHandshake, TimeoutError, ClientError) as exc:
            return 1006, repr(exc)
        conn = Connection(ws, self._codec, self._timeout, self._on_event, self._closed)
        reader = asyncio.create_task(conn.read())
        try:
            try:
                await self._greet(conn, token)
            except ClientError:
                await conn.abort("hello failed")  # the gateway closes on a refused hello
            return await reader
        finally:
            reader.cancel()
            self._closed(conn)
            await ws.close()

    async def _greet(self, conn: Connection, token: str) -> None:
        resume = {f.id: f.log.last_seq for f in list(self._followed.values())[:MAX_RESUME]}
        fields: JSONObject = {"token": token}
        if resume:
            fields["resume"] = resume
        hello = cast(Hello, await conn.request("hello", fields))
        self._hello_seen = True
        for cid, outcome in (hello.get("resume") or {}).items():
            if not outcome.get("ok"):
                self._forget(cid)
                log.warning("chatgate: conversation %s not resumed: %s", cid, outcome)
        self._conn = conn
        self._hello = hello
        self._backoff.reset()
        self._set_state(ClientState.OPEN)
        self._open.set()
        for followed in list(self._followed.values()):
            if followed.id not in resume:
                after = followed.log.last_seq
                with contextlib.suppress(ClientError):
                    fields = {"conversation_id": followed.id, "after_seq": after}
                    await conn.request("subscribe", fields)
        if self._inbox:
            with contextlib.suppress(ClientError):
                await conn.request("subscribe", {"inbox": True})

    def _closed(self, conn: Connection) -> None:
        if self._conn is conn:
            self._conn = None
            self._hello = None
        self._open.clear()

    def _stop(self, error: ClientError) -> None:
        if self._error is None:
            self._error = error
        self._open.clear()
        self._set_state(ClientState.CLOSED)
        if error.code != CLOSED:
            log.warning("chatgate: stopped: %s", error)

    async def _wait_open(self) -> Connection:
        while True:
            if self._state is ClientState.CLOSED:
                raise self._error or ClientError(CLOSED, "the client is closed")
            if self._state is ClientState.IDLE:
                raise ClientError(CLOSED, "not connected: call connect() first")
            if self._open.is_set() and self._conn is not None and not self._conn.closed:
                return self._conn
            opened = asyncio.ensure_future(self._open.wait())
            stopped = asyncio.ensure_future(self._wait_state(ClientState.CLOSED))
            await asyncio.wait({opened, stopped}, return_when=asyncio.FIRST_COMPLETED)
            opened.cancel()
            stopped.cancel()

    async def _wait_state(self, state: ClientState) -> None:
        while self._state is not state:
            self._changed.clear()
            await self._changed.wait()

    def _set_state(self, state: ClientState) -> None:
        if self._state is not state:
            self._state = state
            self._changed.set()

    async def _get_token(self, refresh: bool) -> str:
        source = self._token_source
        if isinstance(source, str):
            return source
        if self._token is None or refresh:
            self._token = await source(refresh)
        return self._token

    async def _current_token(self) -> str:
        return await self._get_token(False)

    # -- events -----------------------------------------------------------------------------

    async def _on_event(self, frame: JSONObject) -> None:
        followed = self._followed.get(frame.get("conversation_id"))  # type: ignore[arg-type]
        seq = frame.get("seq")
        stored = frame.get("event") in ("new_message", "conversation.updated")
        if followed is not None and stored and isinstance(seq, int) and seq > 0:
            await self._deliver(followed, followed.log.accept(seq, frame))
            self._watch_gap(followed)
        else:
            await self._events.put(parse_event(frame))

    async def _replied(self, message: Message) -> None:
        # The reply carries the stored message: hand it out now when it is the next seq (its
        # event, maybe later, is then a repeat). Further ahead, its event is on its way.
        followed = self._followed.get(message["conversation_id"])
        if followed is not None and message["seq"] == followed.log.last_seq + 1:
            await self._deliver(followed, followed.log.accept(message["seq"], event_frame(message)))

    async def _deliver(self, followed: _Followed, frames: list[JSONObject]) -> None:
        for frame in frames:
            if frame.get("event") == "conversation.updated":
                followed.conversation = frame["data"].get("conversation")
            await self._events.put(parse_event(frame))

    def _watch_gap(self, followed: _Followed) -> None:
        if followed.backfill is not None and not followed.backfill.done():
            return
        if followed.log.gap is not None:
            followed.backfill = asyncio.create_task(self._backfill(followed))

    async def _backfill(self, followed: _Followed) -> None:
        while (gap := followed.log.gap) is not None and self._followed.get(followed.id) is followed:
            try:
                entries = await backfill(self.rest, followed.id, gap, followed.conversation)
            except Exception as error:  # a failed read is tried again, whatever broke it
                delay = followed.retries.next()
                log.warning(
                    "chatgate: backfill of %s failed (%s); again in %.2f s",
                    followed.id,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            followed.retries.reset()
            await self._deliver(followed, followed.log.fill(entries))

    def _forget(self, conversation_id: str) -> _Followed | None:
        followed = self._followed.pop(conversation_id, None)
        if followed is not None and followed.backfill is not None:
            followed.backfill.cancel()
        return followed


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
