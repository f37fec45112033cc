"""The socket layer and fan-out: ``GET /ws``, sessions, rooms across nodes.

Lives here: the WebSocket endpoint (``endpoint``) and what it needs from the app
(``services``), one connection's outbound side (``session``), local room membership and
ordered delivery (``registry``), publishing stored events to rooms (``publisher``, the
``core.publishing.EventPublisher`` the app hands to handlers), one event frame encoded once
per codec (``push``), node leases in the database (``nodes``), closing the sockets of revoked
credentials (``revocation``), and the brokers that carry events between nodes (``broker``).

May import: ``gateway.core``, ``gateway.handlers``' layer and below (``media``, ``limits``,
``shards``, ``settings``), ``storage``, ``protocol``. Must not import ``gateway.http`` (a
sibling transport), ``gateway.dialects``, ``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
