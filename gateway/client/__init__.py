"""A typed asyncio client of a chatgate gateway, for bots and integrations.

What lives here: ``Client`` (one socket kept up: ``hello`` with resume, subscriptions, sends
retried by ``client_message_id``, reconnects with backoff and jitter, gap detection with REST
backfill) and ``RestClient`` (the REST calls a bot or an integration needs). The rules are the
JavaScript SDK's (``gateway/web/sdk``): same protocol, same guarantees (docs/client-python.md).

What it may import: ``protocol`` and third-party libraries (``websockets``, ``httpx2``,
``orjson``, ``msgpack``), nothing else of ``gateway`` and nothing of ``storage``: it is the
outside of the gateway, shipped in the same package so that it is versioned with the protocol
it speaks. Nothing else in ``gateway`` imports it (import-linter says both); ``bench`` may.
"""

from __future__ import annotations

from gateway.client.backoff import Backoff
from gateway.client.client import Client, ClientState, TokenProvider
from gateway.client.errors import ClientError
from gateway.client.events import (
    ConversationCreated,
    ConversationUpdated,
    Event,
    MessageDelta,
    NewMessage,
    Read,
    Typing,
    UnknownEvent,
    parse_event,
)
from gateway.client.rest import RestClient
from gateway.client.types import Conversation, Hello, Message

__all__ = [
    "Backoff",
    "Client",
    "ClientError",
    "ClientState",
    "Conversation",
    "ConversationCreated",
    "ConversationUpdated",
    "Event",
    "Hello",
    "Message",
    "MessageDelta",
    "NewMessage",
    "Read",
    "RestClient",
    "TokenProvider",
    "Typing",
    "UnknownEvent",
    "parse_event",
]
