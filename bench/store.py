"""``chatgate bench store``: the durable write alone, without sockets or HTTP.

    chatgate bench store --database-url postgresql://... --applies 3000 --concurrency 1,20

Appends visitor messages with ``Store.apply`` (what every send does: lock the conversation,
decide, store the message with the next seq, derive the outbox) from ``concurrency``
writers at once, each on a conversation of its own, and prints applies per second and this
process's CPU time per apply (the store's threads included; a PostgreSQL server's own CPU is
not). Run it against a scratch database: it creates an org each time.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

import uvloop

from gateway.core.lifecycle import new_conversation, plan_message
from gateway.handlers.orgs import create_org
from gateway.settings import Settings
from gateway.stores import open_store
from protocol.states import Role
from storage.models import Conversation, NewMessage, Plan, now

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chatgate bench store", description=__doc__)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--applies", type=int, default=3000)
    parser.add_argument("--concurrency", default="1,20", help="writers at once, comma separated")
    args = parser.parse_args(argv)
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='chatgate-store-')}/s.db"
    for writers in (int(c) for c in args.concurrency.split(",")):
        rate, cpu = uvloop.run(_measure(url, args.applies, writers))
        print(
            f"store {url.split(':')[0]}, {writers} writers: {rate:,.0f} applies/s, "
            f"{cpu:,.0f} us CPU per apply",
            flush=True,
        )
    return 0


async def _measure(url: str, applies: int, writers: int) -> tuple[float, float]:
    store = open_store(Settings(database_url=url))
    await store.start()
    try:
        org = await create_org(store, "bench-store")
        ids = []
        for _ in range(writers):
            conversation = new_conversation(
                org_id=org.org_id, widget_id=org.widget_id, contact_id=None, metadata={}, at=now()
            )
            await store.create_conversation(conversation)
            ids.append(conversation.id)

        def decide(conversation: Conversation) -> Plan:
            message = NewMessage(Role.VISITOR, None, "x" * 100, metadata={"source": "socket"})
            return plan_message(conversation, message, epoch=None, at=now())

        async def writer(conversation_id: str) -> None:
            for _ in range(applies // writers):
                await store.apply(org.org_id, conversation_id, decide)

        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(writer(cid) for cid in ids))
        elapsed, used = time.perf_counter() - started, time.process_time() - cpu
        done = applies // writers * writers
        return done / elapsed, used / done * 1e6
    finally:
        await store.aclose()
