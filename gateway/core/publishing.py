"""``EventPublisher``: how handlers hand stored events on to the rooms that carry them.

Handlers and the escalation timers depend on this interface only; the socket layer
(``gateway.realtime.publisher.Publisher``) implements it, and the app wires the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from protocol.events import Event

__all__ = ["EventPublisher"]


class EventPublisher(Protocol):
    """Sends events to their rooms (``gateway.core.rooms``) on every gateway node."""

    async def publish(self, org_id: str, events: Iterable[Event], *, outbox: bool = True) -> None:
        """Send ``events`` of one org to their rooms.

        Call it after the events are stored (persist, then publish). It never raises for a
        broker failure: delivery is at-most-once, and subscribers who miss an event backfill
        it from storage by ``seq``. Volatile events (``seq`` None) are simply lost then.
        ``outbox=False``: the change is known to have written no outbox row (the outbox
        dispatcher is not woken for it).
        """
        ...
