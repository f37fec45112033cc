"""A session's outbound side: bounded queue, batching, catch-up then live."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from gateway.core.metrics import Metrics
from gateway.realtime.push import Push
from gateway.realtime.session import CATCH_UP_BUFFER, PAGE, Session
from gateway.realtime.task_outlet import TaskOutlet
from protocol.codes import CloseCode
from protocol.encoding import JSON, MSGPACK, unpack
from protocol.events import MessageCreated, TypingChanged
from tests.support import timeout

CID = "c0ffee00-0000-4000-8000-000000000001"


def event(seq: int, conversation_id: str = CID) -> MessageCreated:
    return MessageCreated(conversation_id, seq, {"seq": seq, "content": f"m{seq}"})


class Wire:
    """The socket side: records frames; can be held shut to model a client not reading."""

    def __init__(self, binary: bool = False) -> None:
        self.frames: list[Any] = []
        self.open = asyncio.Event()
        self.open.set()
        self.binary = binary
        self.changed = asyncio.Event()

    async def send(self, frame: str | bytes) -> None:
        await self.open.wait()
        decoded = unpack(frame) if self.binary else orjson.loads(frame)
        self.frames.append(decoded)
        self.changed.set()

    def items(self) -> list[dict[str, Any]]:
        flat: list[dict[str, Any]] = []
        for frame in self.frames:
            flat.extend(frame if isinstance(frame, list) else [frame])
        return flat

    async def wait_items(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout(5)):
            while len(self.items()) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.items()


async def running(wire: Wire, **options: Any) -> tuple[Session, asyncio.Task[None]]:
    config = {"queue_size": 8, "max_batch": 4, **options}
    codec = MSGPACK if wire.binary else JSON
    metrics = Metrics()
    outlet = TaskOutlet(wire.send, codec, metrics=metrics, **config)
    session = Session("s1", codec, outlet, metrics=metrics)
    task = asyncio.create_task(session.run(asyncio.Event().wait))
    await asyncio.sleep(0)
    return session, task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def live(session: Session, cursor: int = 0) -> None:
    session.watch(CID)
    session.subscriptions[CID].buffer = None
    session.subscriptions[CID].cursor = cursor


@pytest.mark.parametrize("binary", [False, True])
async def test_session_batches_queued_frames(binary: bool) -> None:
    """Frames queued while the socket is busy leave as array frames of at most max_batch."""
    wire = Wire(binary)
    wire.open.clear()
    session, task = await running(wire)
    live(session)
    for seq in range(1, 8):
        session.push_event(CID, Push.from_event(event(seq)))
    wire.open.set()
    items = await wire.wait_items(7)
    assert [i["seq"] for i in items] == list(range(1, 8))
    assert all(len(f) <= 4 for f in wire.frames if isinstance(f, list))
    assert any(isinstance(f, list) for f in wire.frames), "several events shared a frame"
    await stop(task)


async def test_session_full_queue_closes_with_4008() -> None:
    """A client that does not read is cut with SLOW_CONSUMER; pushes never wait."""
    wire = Wire()
    wire.open.clear()
    session, task = await running(wire, queue_size=8)
    live(session)
    for seq in range(1, 30):
        session.push_event(CID, Push.from_event(event(seq)))  # returns at once, every time
    assert session.close_code is CloseCode.SLOW_CONSUMER
    await asyncio.wait_for(task, timeout(5))
    assert session._metrics.slow_consumers._value.get() == 1


async def test_session_follow_pages_backlog_then_flushes_live_once() -> None:
    """A backlog longer than a page is sent in order, then buffered live events that the
    backlog did not cover, each exactly once."""
    wire = Wire()
    session, task = await running(wire, queue_size=4096)
    stored = [event(seq) for seq in range(1, 2 * PAGE + 51)]
    session.watch(CID)
    for seq in range(2 * PAGE + 40, 2 * PAGE + 61):  # overlaps the backlog's tail
        session.push_event(CID, Push.from_event(event(seq)))
    pages: list[int] = []

    async def read_page(after: int) -> list[MessageCreated]:
        pages.append(after)
        return [e for e in stored if e.seq > after][:PAGE]

    sent = await session.follow(CID, 0, read_page)
    assert sent == len(stored) and pages == [0, PAGE, 2 * PAGE]
    items = await wire.wait_items(2 * PAGE + 60)
    assert [i["seq"] for i in items] == list(range(1, 2 * PAGE + 61))
    session.push_event(CID, Push.from_event(event(2 * PAGE + 60)))  # late duplicate
    session.push_event(CID, Push.from_event(event(2 * PAGE + 61)))
    items = await wire.wait_items(2 * PAGE + 61)
    assert [i["seq"] for i in items][-2:] == [2 * PAGE + 60, 2 * PAGE + 61]
    await stop(task)


async def test_session_catch_up_buffer_overflow_rereads_storage() -> None:
    """When more live events arrive during catch-up than the buffer holds, the buffer is
    dropped and the log read again: nothing lost, nothing doubled."""
    wire = Wire()
    session, task = await running(wire, queue_size=8192)
    total = CATCH_UP_BUFFER + 300
    stored = [event(seq) for seq in range(1, total + 1)]
    session.watch(CID)
    reads = 0

    async def read_page(after: int) -> list[MessageCreated]:
        nonlocal reads
        reads += 1
        if reads == 1:  # while the first page is read, a flood of live events arrives
            for e in stored:
                session.push_event(CID, Push.from_event(e))
        return [e for e in stored if e.seq > after][:PAGE]

    await session.follow(CID, 0, read_page)
    assert session.subscriptions[CID].cursor == total
    items = await wire.wait_items(total)
    assert [i["seq"] for i in items] == list(range(1, total + 1))
    await stop(task)


async def test_session_volatile_and_inbox_routing() -> None:
    """typing reaches only followers; inbox copies of followed conversations are skipped."""
    wire = Wire()
    session, task = await running(wire)
    typing = Push.from_event(TypingChanged(CID, True, "agent", "a1"))
    session.push_volatile(typing)
    live(session)
    session.push_volatile(typing)
    other = "c0ffee00-0000-4000-8000-000000000002"
    session.push_inbox(Push.from_event(event(1)))
    session.push_inbox(Push.from_event(event(1, other)))
    # Everything was queued before the writer ran, so it leaves in one batch: a wrongly
    # routed third event would be in it.
    assert [(i["event"], i["conversation_id"]) for i in await wire.wait_items(2)] == [
        ("typing", CID),
        ("new_message", other),
    ]
    await stop(task)
