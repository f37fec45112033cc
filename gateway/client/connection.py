"""One WebSocket's lifetime: frames out, frames in (an object or an array of them), replies
matched to their requests by ``ref``, a deadline on every reply. It knows nothing of
reconnecting, resuming or seqs: ``Client`` builds those on top, one ``Connection`` per
attempt (the JavaScript SDK's ``connection.ts``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from gateway.client.errors import DISCONNECTED, TIMEOUT, ClientError
from gateway.client.types import JSONObject
from protocol.codes import CloseCode, ErrorCode
from protocol.encoding import Codec
from protocol.errors import ProtocolError

__all__ = ["MAX_FRAME_BYTES", "Connection"]

#: The gateway's default inbound frame limit (``CHATGATE_MAX_FRAME_BYTES``); a larger frame
#: is refused here rather than closing the socket with 1009 there.
MAX_FRAME_BYTES: Final = 64 * 1024
#: The close code this client sends when it gives up on a socket that stopped answering.
GIVE_UP: Final = 4000


class Connection:
    """Requests and replies over one open socket.

    Args:
        ws: the open socket.
        codec: the negotiated subprotocol's codec.
        timeout: seconds to wait for each reply.
        on_event: called with each event frame, in the order the gateway sent them; the
            socket is not read while it runs.
        on_closed: called once, at once, when the socket is found closed.
    """

    def __init__(
        self,
        ws: ClientConnection,
        codec: Codec,
        timeout: float,
        on_event: Callable[[JSONObject], Awaitable[None]],
        on_closed: Callable[[Connection], None],
    ) -> None:
        self._ws = ws
        self._codec = codec
        self._timeout = timeout
        self._on_event = on_event
        self._on_closed = on_closed
        self._refs = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.closed = False

    async def request(self, op: str, fields: JSONObject) -> Any:
        """Sends one op; returns its reply's ``data``.

        Raises:
            ClientError: the gateway's error reply; ``payload_too_large`` for a frame over
                64 KiB (not sent); ``disconnected`` when the socket closes first (the op may
                or may not have run); ``timeout`` when no reply came in time, after which
                the socket is given up.
        """
        if self.closed:
            raise ClientError(DISCONNECTED, "not connected")
        ref = next(self._refs)
        payload = self._codec.encode({"op": op, "ref": ref, **fields})
        size = len(payload.encode() if isinstance(payload, str) else payload)
        if size > MAX_FRAME_BYTES:
            raise ClientError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"a {op} frame of {size} bytes is over 64 KiB",
                details={"max_bytes": MAX_FRAME_BYTES},
            )
        reply = asyncio.get_running_loop().create_future()
        self._pending[ref] = reply
        try:
            await self._ws.send(payload)
            async with asyncio.timeout(self._timeout):
                return await reply
        except ConnectionClosed:
            raise ClientError(DISCONNECTED, f"the socket closed before the {op} reply") from None
        except TimeoutError:
            await self.abort(f"no reply to {op}")
            raise ClientError(TIMEOUT, f"no reply to {op} in {self._timeout} s") from None
        finally:
            self._pending.pop(ref, None)

    async def read(self) -> tuple[int, str]:
        """Reads until the socket closes; returns the close code and reason (1006 when the
        connection dropped without a close frame). Every pending request fails first."""
        try:
            async for raw in self._ws:
                try:
                    decoded = self._codec.decode(raw)
                except ProtocolError:
                    continue  # not ours to fix; the frames after it still count
                for frame in decoded if isinstance(decoded, list) else [decoded]:
                    if isinstance(frame, dict):
                        await self._receive(frame)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._on_closed(self)
            for reply in self._pending.values():
                if not reply.done():
                    reply.set_exception(
                        ClientError(DISCONNECTED, "the socket closed before the reply")
                    )
        code = self._ws.close_code
        return (CloseCode.NORMAL if code is None else code), self._ws.close_reason or ""

    async def abort(self, reason: str) -> None:
        """Gives the socket up (its reader then returns)."""
        await self._ws.close(GIVE_UP, reason)

    async def close(self) -> None:
        await self._ws.close(CloseCode.NORMAL, "bye")

    async def _receive(self, frame: JSONObject) -> None:
        op = frame.get("op")
        if op == "event":
            await self._on_event(frame)
        elif op == "reply":
            reply = self._pending.get(frame.get("ref"))  # type: ignore[arg-type]
            if reply is None or reply.done():
                return
            if frame.get("ok"):
                reply.set_result(frame.get("data"))
            else:
                reply.set_exception(ClientError.from_body(frame.get("error")))
