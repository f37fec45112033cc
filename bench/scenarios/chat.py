"""``chat``: visitor/agent pairs in conversations, agent inbox tabs watching the org, sends
mixed between REST and the socket, and a takeover in every conversation.

Pair i is a visitor (a widget session) with a socket on node i mod N and an agent with a
socket on node i+1 mod N; inbox tabs (agent sockets subscribed to the org inbox) are spread
over the nodes too, and the bot has a socket on each node. A pair runs conversations back to
back, each one scripted as a real one goes:

1. the visitor starts it (``POST /v1/conversations`` with the visitor token), and both
   sockets subscribe;
2. visitor, bot, visitor, bot (``bot_active``);
3. the visitor asks for a human (``conversation.update status agent_requested``);
4. the agent answers: the takeover (``conversation.updated``, the system marker, the answer);
5. agent and visitor alternate for ``EXCHANGES`` turns each;
6. the agent resolves it; the visitor starts the next one.

Messages are paced open-loop per pair (``--rate`` messages per second over all pairs); status
changes go right after the message before them and take no slot. Each sender alternates
between ``message.send`` on a socket and ``POST /v1/conversations/{id}/messages`` with its own
token (visitor, agent and bot tokens are all REST credentials), sent to the node its socket is
not on; status changes alternate between ``conversation.update`` and ``PATCH`` from one
conversation to the next. Where the lifecycle needs an order (the agent's first answer must
come after the request for a human and after every bot message; the resolve after
everything), the pair first waits for the replies to its writes: those sends are closed-loop,
start the schedule again from now, and their lag is not recorded. So a slow gateway lowers the
rate actually sent (``sent_messages_per_second``) rather than piling writes up. REST writes go
through aiohttp with keep-alive (httpx2 costs the client several times the CPU per request);
``reply_ms`` gives the reply times of the writes by surface.

Checks. Each socket's subscription to each conversation gets a ``Ledger`` from its subscribe
reply's ``last_seq`` to the conversation's final ``last_seq`` (the highest seq in the replies
to its writes, which all come from this worker; read back with the API key where a write
failed): every message and ``conversation.updated`` exactly once, in order. A write the
gateway refused counts as lost: the script follows the lifecycle, so none should be.

The inbox. Conversations start during the run, after every tab has subscribed, and no tab
follows a conversation directly (the inbox skips those), so each tab must get, for every
conversation, its ``conversation.created`` (seq 0), then each ``conversation.updated`` that
the conversation's own subscribers got (their seqs), exactly once and in increasing seq. A tab
knows that set for the conversations of its own worker: each (tab, conversation) is checked
as one subscription (lost, duplicated, out of order, unexpected). For the other workers'
conversations a tab checks duplicates and order only. ``inbox`` in the summary counts them.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.nodes import Topology
from bench.report import percentiles
from bench.runner import Outcome, run
from bench.scenarios.chat_load import ChatLoad
from bench.scenarios.chat_plan import COUNTS, INBOX_COUNTS, REST_ACKS, SOCKET_ACKS, plan

__all__ = ["arguments", "execute"]

NAME = "chat"
HELP = "visitor/agent pairs with takeovers, inbox tabs, REST and socket sends"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=int, default=100, help="visitor/agent pairs")
    parser.add_argument("--inboxes", type=int, default=5, help="agent tabs on the org inbox")
    parser.add_argument("--rate", type=float, default=500, help="messages per second")
    parser.add_argument("--size", type=int, default=100, help="message length")


def execute(args: argparse.Namespace, topology: Topology) -> tuple[Outcome, dict[str, Any]]:
    plans = plan(
        topology,
        pairs=args.pairs,
        inboxes=args.inboxes,
        rate=args.rate,
        size=args.size,
        workers=args.workers,
    )
    outcome = run(
        ChatLoad, plans, topology, duration=args.duration, label=NAME, progress=not args.quiet
    )
    extra = outcome.result.extra
    counts = {key: extra.pop(key, 0) for key in COUNTS}
    inbox = {key.removeprefix("inbox_"): extra.pop(key, 0) for key in INBOX_COUNTS}
    acks = {
        "socket": percentiles(extra.pop(SOCKET_ACKS, [])),
        "rest": percentiles(extra.pop(REST_ACKS, [])),
    }
    return outcome, {
        "offered_messages_per_second": args.rate,
        "sent_messages_per_second": round(outcome.result.sent / args.duration),
        "conversations": {
            "started": counts["conversations"],
            "takeovers": counts["takeovers"],
            "resolved": counts["resolved"],
        },
        "writes": {
            "socket": counts["socket_writes"],
            "rest": counts["rest_writes"],
            "status_changes": counts["status_changes"],
            "refused": counts["refused"],
            "stray_events": counts["stray_events"],
        },
        "inbox": inbox,
        "reply_ms": acks,
        "report_keys": ["conversations", "writes", "reply_ms", "inbox"],
    }
