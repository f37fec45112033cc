"""Redis topology: which Redis node owns a channel or key, and clients for each node.

Lives here: standalone nodes chosen by rendezvous hashing, or a Redis Cluster by hash slot
(``layouts``). Shared by the broker (rooms) and the rate limiter (keys).

May import: nothing of the gateway (only ``redis``).
"""

__all__: list[str] = []
