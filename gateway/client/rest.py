"""The REST calls a bot or an integration needs (docs/api.md), over ``httpx2``.

Every call sends ``Authorization: Bearer`` with the client's credential (an API key, or a
token) and raises ``ClientError`` with the gateway's error code; a transport failure is
``network``. ``send_message`` is safe to retry: give it a ``client_message_id`` and the
gateway stores the message once, however often it is sent.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypedDict, cast

import httpx2 as httpx

from gateway.client.backoff import Backoff
from gateway.client.errors import NETWORK, ClientError
from gateway.client.types import Conversation, JSONObject, Message

__all__ = ["MessagePage", "RestClient", "Token"]

#: The gateway's largest page of messages.
MAX_PAGE = 200


class MessagePage(TypedDict):
    data: list[Message]
    has_more: bool
    next_after_seq: int


class Token(TypedDict):
    token: str
    expires_at: str


class RestClient:
    """The gateway's REST API with one credential.

    Args:
        url: the gateway, e.g. ``http://127.0.0.1:8000``.
        credential: an API key or token, or an async callable returning the current one.
        http: an ``httpx2.AsyncClient`` to share; by default one of its own (closed by
            ``aclose``).
        timeout: seconds per request.
    """

    def __init__(
        self,
        url: str,
        credential: str | Callable[[], Awaitable[str]],
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._credential = credential
        self._shared = http
        self._timeout = timeout
        self._own: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        """Closes the HTTP client of its own (a later call opens a new one)."""
        own, self._own = self._own, None
        if own is not None:
            await own.aclose()

    @property
    def _http(self) -> httpx.AsyncClient:
        if self._shared is not None:
            return self._shared
        if self._own is None:
            self._own = httpx.AsyncClient(timeout=self._timeout)
        return self._own

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- conversations and messages ---------------------------------------------------------

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return cast(Conversation, await self.call("GET", f"/v1/conversations/{conversation_id}"))

    async def update_conversation(
        self, conversation_id: str, *, status: str | None = None, epoch: int | None = None
    ) -> Conversation:
        body = _fields(status=status, epoch=epoch)
        path = f"/v1/conversations/{conversation_id}"
        return cast(Conversation, await self.call("PATCH", path, body))

    async def list_messages(
        self, conversation_id: str, *, after_seq: int = 0, limit: int = MAX_PAGE
    ) -> MessagePage:
        path = f"/v1/conversations/{conversation_id}/messages"
        query = {"after_seq": after_seq, "limit": limit}
        return cast(MessagePage, await self.call("GET", path, params=query))

    async def send_message(
        self,
        conversation_id: str,
        content: str,
        *,
        role: Literal["agent", "bot", "visitor", "live_agent"] | None = None,
        epoch: int | None = None,
        client_message_id: str | None = None,
        agent_id: str | None = None,
        metadata: JSONObject | None = None,
        attempts: int = 5,
        backoff: Backoff | None = None,
    ) -> Message:
        """Stores a message; returns it with its ``seq``.

        A network failure, ``unavailable`` or ``internal`` is retried (up to ``attempts``
        tries, with backoff) with the same ``client_message_id`` (one is made when none is
        given), so the message is stored once. A bot passes the conversation's ``epoch``.

        Raises:
            ClientError: the gateway's refusal (``control_lost`` after a takeover,
                ``invalid_state``, ``validation_error``, ...), or the last failure.
        """
        body = _fields(
            content=content,
            role=role,
            epoch=epoch,
            agent_id=agent_id,
            metadata=metadata,
            client_message_id=client_message_id or str(uuid.uuid4()),
        )
        path = f"/v1/conversations/{conversation_id}/messages"
        delays = backoff or Backoff()
        for attempt in range(1, attempts + 1):
            try:
                return cast(Message, await self.call("POST", path, body))
            except ClientError as error:
                if error.code not in _RETRIED or attempt == attempts:
                    raise
            await asyncio.sleep(delays.next())
        raise AssertionError("unreachable")

    # -- credentials ------------------------------------------------------------------------

    async def create_token(
        self, kind: Literal["agent", "bot"] = "bot", *, agent_id: str | None = None
    ) -> Token:
        """A short-lived socket token (``POST /v1/tokens``); needs an API key."""
        body = _fields(kind=kind, agent_id=agent_id)
        return cast(Token, await self.call("POST", "/v1/tokens", body))

    # -- any call ---------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        body: JSONObject | None = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """One request; returns the decoded JSON answer.

        Raises:
            ClientError: the gateway's error (its code, ``status`` set), or ``network``.
        """
        credential = self._credential
        token = credential if isinstance(credential, str) else await credential()
        try:
            response = await self._http.request(
                method,
                self.url + path,
                json=body,
                params=dict(params) if params is not None else None,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as exc:
            raise ClientError(NETWORK, f"{method} {path}: {exc!r}") from exc
        if response.is_success:
            return response.json()
        try:
            error = response.json().get("error")
        except ValueError:
            error = {"code": "internal", "message": response.text[:200]}
        raise ClientError.from_body(error, status=response.status_code)


_RETRIED = frozenset({NETWORK, "unavailable", "internal"})


def _fields(**fields: Any) -> JSONObject:
    return {name: value for name, value in fields.items() if value is not None}
