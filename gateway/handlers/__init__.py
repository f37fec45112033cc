"""Command handlers, one module per resource, and ``build_bus`` that registers them all.

Lives here: conversations and messages (``conversations``), org administration, tokens and
widget sessions (``admin``), agents' status and deletion (``agents``), contacts
(``contacts``), the knowledge base (``knowledge``), org provisioning (``orgs``), and
``wiring.build_bus``.
A handler has the shape ``async (ctx, command) -> result``; it never sees a Request or a
WebSocket.

May import: ``gateway.core``, ``gateway.delivery``, ``gateway.media``, ``gateway.limits``,
``gateway.settings``, ``storage``, ``protocol``. Must not import the transports
(``gateway.http``, ``gateway.realtime``, ``gateway.dialects``): it publishes through the
``core.publishing.EventPublisher`` interface, which the app wires to ``realtime``.
"""

__all__: list[str] = []
