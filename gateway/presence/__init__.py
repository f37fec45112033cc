"""Presence and who is viewing: agents online, away or offline across every gateway node, and
the agents that have a conversation open.

``leases`` is the shared table (entries that expire unless refreshed): in process
(``memory``) or in Redis (``redis``), picked by ``factory``; ``tracker`` is the service the
socket layer and the handlers use. Imports ``core`` (the event publisher), ``shards`` (Redis
topology), ``protocol`` and redis; must not import ``handlers``, ``realtime`` or ``http``.
"""
