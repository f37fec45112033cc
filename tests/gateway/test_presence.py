"""The presence service over in-process leases: two services sharing one table stand for two
nodes sharing Redis (the Redis table is exercised across real processes in
tests/e2e/test_presence_nodes.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from gateway.presence.memory import MemoryLeases
from gateway.presence.tracker import Presence
from protocol.events import Event, PresenceChanged


class Recorder:
    """An ``EventPublisher`` that keeps what it is given (the services' only output)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Event]] = []

    async def publish(self, org_id: str, events: Iterable[Event], *, outbox: bool = True) -> None:
        self.events.extend((org_id, e) for e in events)

    def presence(self) -> list[tuple[str, str]]:
        return [(e.agent_id, e.status) for _, e in self.events if isinstance(e, PresenceChanged)]


async def test_presence_of_a_node_that_died_expires_and_is_announced_once() -> None:
    table = MemoryLeases()
    dead_out, live_out, other_out = Recorder(), Recorder(), Recorder()
    dead = Presence(table, dead_out, ttl=0.3, refresh=60)
    live = Presence(table, live_out, ttl=0.3, refresh=60)
    other = Presence(table, other_out, ttl=0.3, refresh=60)
    await dead.set_status("s1", "org", "ana", "Ana", "online")
    await live.set_status("s2", "org", "bo", "Bo", "away")
    await other.set_status("s3", "org", "cy", "Cy", "online")
    await dead.set_viewing("s1", "org", "ana", "Ana", "conv", True)
    assert await live.statuses("org") == {"ana": "online", "bo": "away", "cy": "online"}
    assert [v.agent_id for v in await live.viewers("conv")] == ["ana"]

    # ``dead`` never refreshes again; the living ones keep their own entries alive.
    for _ in range(200):
        await asyncio.sleep(0.05)
        await live.refresh()
        await other.refresh()
        if ("ana", "offline") in live_out.presence() + other_out.presence():
            break
    assert await live.statuses("org") == {"bo": "away", "cy": "online"}
    assert await live.viewers("conv") == []
    # Announced by the node whose read removed the entry: once in all.
    announced = live_out.presence() + other_out.presence()
    assert announced.count(("ana", "offline")) == 1


async def test_presence_leave_reports_the_agents_new_status() -> None:
    out = Recorder()
    presence = Presence(MemoryLeases(), out)
    assert await presence.set_status("a", "org", "ana", "Ana", "online") == "online"
    assert await presence.set_status("b", "org", "ana", "Ana", "away") == "online"
    await presence.leave("a")
    await presence.leave("b")
    await presence.leave("b")  # twice: nothing more
    assert out.presence() == [("ana", "online"), ("ana", "away"), ("ana", "offline")]
    assert await presence.status_of("org", "ana") == "offline"
