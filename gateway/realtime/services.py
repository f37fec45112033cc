"""What the socket endpoint needs from the app, and nothing more.

The app puts an object that provides ``SocketServices`` in the lifespan state under
``STATE_KEY``; the endpoint reads it from the connection's scope.
"""

from __future__ import annotations

from typing import Protocol

from gateway.core.auth import Authenticator
from gateway.core.bus import CommandBus
from gateway.core.clients import ClientAddresses
from gateway.core.metrics import Metrics
from gateway.limits.policy import Limits
from gateway.presence.tracker import Presence
from gateway.realtime.registry import Registry
from gateway.realtime.revocation import CredentialWatch
from gateway.settings import Settings
from storage.base import Store

__all__ = ["STATE_KEY", "SocketServices"]

#: The lifespan state key that holds the ``SocketServices``.
STATE_KEY = "sockets"


class SocketServices(Protocol):
    """The app, as a socket sees it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def store(self) -> Store: ...

    @property
    def bus(self) -> CommandBus: ...

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def clients(self) -> ClientAddresses: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def credential_watch(self) -> CredentialWatch:
        """Closes the sockets of revoked API keys and disabled agents."""
        ...

    @property
    def node_id(self) -> str:
        """This process's id among the gateway nodes sharing the database."""
        ...

    @property
    def presence(self) -> Presence:
        """Agents' presence and who is viewing what (the socket's close ends its share)."""
        ...
