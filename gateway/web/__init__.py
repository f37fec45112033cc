"""Web surfaces: the chat widget, the agent dashboard and their JavaScript SDK.

Empty for now; the widget and dashboard issues land here: TypeScript sources, their committed
bundles, and the routes that serve them. It sits beside the other transports: it may import
``gateway.http`` (responses), ``gateway.core`` and below, and must not import
``gateway.realtime``, ``gateway.dialects``, ``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
