"""The ``chat`` scenario's plan: the script of one conversation, the pairs, and who sends
from which node (see ``chat`` for the whole scenario)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.nodes import Node, Topology
from bench.rest import Rest, gather_limited

__all__ = [
    "AGENT",
    "BOT",
    "COUNTS",
    "INBOX_COUNTS",
    "REST_ACKS",
    "SCRIPT",
    "SOCKET_ACKS",
    "VISITOR",
    "Pair",
    "Plan",
    "Step",
    "plan",
]

#: Bot answers before the visitor asks for a human.
BOT_ANSWERS = 2
#: Agent and visitor turns after the takeover.
EXCHANGES = 4

VISITOR, AGENT, BOT = "visitor", "agent", "bot"
#: Reply times of the writes (lists in ``extra``, joined over workers), by surface.
SOCKET_ACKS, REST_ACKS = "chat_ack_us_socket", "chat_ack_us_rest"


@dataclass(frozen=True, slots=True)
class Step:
    """Who does what: ``message``, or a status to set. ``settle``: first wait for the
    replies to every earlier write of the conversation (the lifecycle needs them stored)."""

    actor: str
    action: str
    settle: bool = False


#: One conversation after its start.
SCRIPT: tuple[Step, ...] = (
    *(Step(VISITOR, "message"), Step(BOT, "message")) * BOT_ANSWERS,
    Step(VISITOR, "agent_requested"),
    Step(AGENT, "message", settle=True),  # the takeover
    Step(VISITOR, "message"),
    *(Step(AGENT, "message"), Step(VISITOR, "message")) * (EXCHANGES - 1),
    Step(AGENT, "resolved", settle=True),
)


@dataclass(frozen=True, slots=True)
class Pair:
    visitor_token: str
    visitor_node: int
    agent_node: int
    rate: float
    size: int


@dataclass(frozen=True, slots=True)
class Plan:
    api_key: str
    agent_token: str
    bot_token: str
    nodes: tuple[Node, ...]
    #: The node of each inbox tab of this worker.
    inbox_nodes: tuple[int, ...]
    pairs: tuple[Pair, ...]


#: Per-worker counts (in ``extra``, summed over workers), regrouped by ``execute``.
COUNTS = (
    "conversations",
    "takeovers",
    "resolved",
    "socket_writes",
    "rest_writes",
    "status_changes",
    "refused",
    "stray_events",
)
INBOX_COUNTS = (
    "inbox_tabs",
    "inbox_events",
    "inbox_checked",
    "inbox_expected",
    "inbox_foreign",
    "inbox_lost",
    "inbox_duplicated",
    "inbox_out_of_order",
    "inbox_unexpected",
)


def plan(
    topology: Topology, *, pairs: int, inboxes: int, rate: float, size: int, workers: int
) -> list[Plan]:
    """Open the visitors' sessions; ``rate`` is messages per second over all pairs."""
    credentials = topology.credentials
    nodes = tuple(topology.started)

    async def setup() -> tuple[str, str, list[str]]:
        async with Rest(nodes[0].url, credentials["api_key"]) as rest:
            agent = await rest.agent_token(credentials["agent_id"])
            bot = await rest.bot_token()
            visitors = await gather_limited(
                [lambda: rest.visitor(credentials["widget_id"]) for _ in range(pairs)]
            )
            return agent, bot, [str(v["token"]) for v in visitors]

    agent, bot, tokens = asyncio.run(setup())
    n = len(nodes)
    built = [Pair(token, i % n, (i + 1) % n, rate / pairs, size) for i, token in enumerate(tokens)]
    return [
        Plan(
            credentials["api_key"],
            agent,
            bot,
            nodes,
            tuple(tab % n for tab in range(w, inboxes, workers)),
            tuple(built[w::workers]),
        )
        for w in range(workers)
        if built[w::workers]
    ]
