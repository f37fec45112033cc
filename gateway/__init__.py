"""The chatgate gateway: the ASGI app and everything it runs, in packages by concern.

::

    cli, cli_admin, app   the composition root: builds everything; nothing imports it
    dialects              vendor APIs (Bland, Pingback, Awardee) over the HTTP helpers
    http | realtime       transports: REST routes and files | the socket layer and fan-out
    (bot, web)            bots and web surfaces, beside the transports (coming)
    handlers              command handlers and build_bus
    delivery              outbox dispatcher, webhooks, live-agent escalation
    media | limits        fetch, attachments, file types | rate limits
    core                  bus, auth, lifecycle, results, idempotency, rooms, metrics
    shards, stores,       Redis topology; opening a store; process tuning;
    runtime, settings     configuration

Each package may import only the ones below it (``|`` marks siblings, which may not import
each other); import-linter checks this in ``make lint`` (see docs/architecture.md).
"""

from __future__ import annotations

__all__: list[str] = []
