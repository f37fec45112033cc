"""Brokers carry event payloads between gateway nodes, by channel (room).

Lives here: the interface (``base.Broker``), the in-process broker (``memory``), the Redis
broker over standalone nodes or a cluster (``redis``), and the choice between them
(``factory``). The backends import the interface from ``base``; nothing imports this
package's ``__init__``, which holds no code.
"""

__all__: list[str] = []
