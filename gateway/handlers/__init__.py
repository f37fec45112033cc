"""Command handlers, one module per resource, and ``build_bus`` that registers them all.

Lives here: conversations and messages (``conversations``), org administration, tokens and
widget sessions (``admin``), agents' status and deletion (``agents``), agent accounts and
sign-in (``accounts``, ``auth``), bots (``bots``), contacts (``contacts``), the knowledge base
(``knowledge``), presence and viewers (``presence``), conversation search (``search``), org
provisioning (``orgs``), page cursors (``cursors``), and ``wiring.build_bus``.
A handler has the shape ``async (ctx, command) -> result``; it never sees a Request or a
WebSocket.

May import: ``gateway.core``, ``gateway.delivery``, ``gateway.media``, ``gateway.limits``,
``gateway.presence``, ``gateway.settings``, ``storage``, ``protocol``. Must not import the
transports (``gateway.http``, ``gateway.realtime``, ``gateway.dialects``): it publishes through the
``core.publishing.EventPublisher`` interface, which the app wires to ``realtime``.
"""

__all__: list[str] = []
