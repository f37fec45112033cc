"""Outbound delivery: the outbox dispatcher, webhooks and live-agent escalation.

Lives here: the dispatcher that claims and delivers outbox rows (``dispatcher``), Standard
Webhooks signing (``signing``), retry schedules (``retries``), escalation timers and fallbacks
to an external live-agent platform (``escalation``), the ``/v1/webhooks`` handlers
(``webhooks``), and the retention sweep that purges finished deliveries, expired idempotency
keys and dead node leases (``retention``).

May import: ``gateway.core``, ``gateway.media`` (the SSRF-safe fetcher sends every delivery),
``gateway.settings``, ``storage``, ``protocol``. Must not import ``gateway.handlers`` or the
transports; ``handlers.wiring`` registers the webhook handlers.
"""

__all__: list[str] = []
