"""Web surfaces: the chat widget, the agent dashboard and their JavaScript SDK.

Lives here: the routes that serve the built bundles (``assets``: ``/widget.js``, ``/sdk.js``,
``/web/...``); TypeScript sources (``sdk/``, its unit tests in ``sdk/tests/``), built by
``build.mjs`` (esbuild, tools pinned by ``package-lock.json``) into ``dist/``: the one output
directory, committed, and the only part of this folder the wheel carries besides Python modules
(``make web`` rebuilds it; ``make web-check`` fails when it is stale). The widget and dashboard
issues add their sources beside ``sdk/``.

It sits beside the other transports: it may import ``gateway.http`` (responses),
``gateway.core`` and below, and must not import ``gateway.realtime``, ``gateway.dialects``,
``gateway.app`` or ``gateway.cli``.
"""

__all__: list[str] = []
