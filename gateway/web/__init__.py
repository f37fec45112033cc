"""Web surfaces: the chat widget, the agent dashboard and their JavaScript SDK.

Lives here: the routes that serve the built bundles (``assets``: ``/widget.js``, ``/sdk.js``,
``/web/...``); the widget and dashboard issues add their TypeScript sources and committed
bundles. It sits beside the other transports: it may import
``gateway.http`` (responses), ``gateway.core`` and below, and must not import
``gateway.realtime``, ``gateway.dialects``, ``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
