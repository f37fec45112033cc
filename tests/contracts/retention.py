"""The retention part of the ``Store`` contract: finished deliveries with their attempts,
expired idempotency keys and the leases of nodes long gone are purged in batches; nothing
pending or recent is.

Mixed into each backend's test class next to ``StoreContract`` (same ``store`` fixture).
"""

from __future__ import annotations

from datetime import timedelta

from storage.base import Store
from storage.models import NodeLease, now
from tests.contracts.claims import backlog
from tests.contracts.outbox import claim_all, outcome
from tests.contracts.rows import add_org

__all__ = ["RetentionContract"]

MONTH = timedelta(days=30)


def node(name: str, seen_ago: timedelta) -> NodeLease:
    at = now() - seen_ago
    return NodeLease(id=name, host="h", pid=1, broker="redis", started_at=at, seen_at=at)


class RetentionContract:
    """Tests every ``Store`` must pass for retention; subclasses provide ``store``."""

    async def test_retention_purges_finished_deliveries_with_their_attempts(
        self, store: Store
    ) -> None:
        """Deliveries that finished before the cut-off go, attempts included, oldest first and
        at most a batch at a time; recent ones and pending ones (however old) stay."""
        org = await add_org(store)
        await backlog(store, org.id, 6)
        rows = sorted(await claim_all(store), key=lambda d: d.seq or 0)
        old = now() - MONTH - timedelta(days=1)
        for n, delivery in enumerate(rows[:4]):
            result = ("delivered", "dead", "delivered", "delivered")[n]
            await store.finish_delivery(delivery, outcome(result, delivery), old)
        recent, pending = rows[4], rows[5]
        await store.finish_delivery(recent, outcome("delivered", recent), now())
        await store.finish_delivery(pending, outcome("retry", pending, retry_at=now()), old)
        assert await store.purge_deliveries(now() - MONTH, 3) == 3
        assert await store.purge_deliveries(now() - MONTH, 3) == 1
        assert await store.purge_deliveries(now() - MONTH, 3) == 0
        for gone in rows[:4]:
            assert await store.get_delivery(org.id, gone.id) is None
            assert await store.list_delivery_attempts(org.id, gone.id) == []
        for kept in (recent, pending):
            assert await store.get_delivery(org.id, kept.id) is not None
            assert len(await store.list_delivery_attempts(org.id, kept.id)) == 1

    async def test_retention_purges_expired_idempotency_keys_in_batches(self, store: Store) -> None:
        """Keys created before the cut-off go, at most ``limit`` per call; newer keys stay."""
        day = timedelta(days=1)
        for i in range(5):
            await store.claim_idempotency_key("s", f"old{i}", "h", now() - 2 * day, day)
        await store.claim_idempotency_key("s", "new", "h", now(), day)
        assert await store.purge_idempotency_keys(now() - day, 2) == 2
        assert await store.purge_idempotency_keys(now() - day) == 3
        assert await store.get_idempotency_key("s", "old4") is None
        assert await store.get_idempotency_key("s", "new") is not None

    async def test_retention_forgets_nodes_long_gone(self, store: Store) -> None:
        """Node leases whose heartbeat stopped before the cut-off go; live ones stay."""
        await store.register_node(node("gone", timedelta(days=2)), now() - timedelta(days=9))
        await store.register_node(node("live", timedelta(0)), now() - timedelta(seconds=15))
        assert await store.purge_nodes(now() - timedelta(days=1)) == 1
        seen = await store.register_node(node("probe", timedelta(0)), now() - timedelta(days=9))
        assert [n.id for n in seen] == ["live"]
