"""The worker side of a scenario: what one load-generating process does, and what it records.

Each worker process runs one ``Load``: ``prepare`` (connect, subscribe), then ``run`` from a
start time shared by every worker until a stop time, then ``drain`` (wait for what is still
in flight), then ``result``. A ``Probe`` records each delivery as it arrives: its latency
(send time written into the message by the sender, read back on receipt) and when it came.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from bench.ledger import Checks, Ledger

__all__ = ["Load", "Probe", "WorkerResult", "stamp", "stamped_at"]

#: Message content starts with the send time: ``t=<monotonic ns>;`` then padding.
PREFIX = "t="


def stamp(size: int, sent_ns: int | None = None) -> str:
    """A message of ``size`` characters that carries its send time."""
    head = f"{PREFIX}{time.monotonic_ns() if sent_ns is None else sent_ns};"
    return head + "x" * max(0, size - len(head))


def stamped_at(content: Any) -> int | None:
    """The send time of a ``stamp``ed message, or None for any other content."""
    if isinstance(content, str) and content.startswith(PREFIX):
        end = content.find(";")
        if end > 0:
            return int(content[2:end])
    return None


@dataclass
class WorkerResult:
    """What one worker measured (merged by the runner)."""

    #: Send-to-receipt latency of every timed delivery, in microseconds.
    latencies: array[int] = field(default_factory=lambda: array("q"))
    #: When each of those arrived, in milliseconds after the shared start.
    receipts: array[int] = field(default_factory=lambda: array("q"))
    #: How late each paced send left, in microseconds (the client keeping up or not).
    lag: array[int] = field(default_factory=lambda: array("q"))
    checks: Checks = field(default_factory=Checks)
    sent: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def merge(self, other: WorkerResult) -> None:
        self.latencies.extend(other.latencies)
        self.receipts.extend(other.receipts)
        self.lag.extend(other.lag)
        self.checks = self.checks + other.checks
        self.sent += other.sent
        self.acked += other.acked
        for code, count in other.errors.items():
            self.errors[code] = self.errors.get(code, 0) + count
        for key, value in other.extra.items():
            if isinstance(value, bool):
                self.extra[key] = self.extra.get(key, False) or value
            elif isinstance(value, int | float) and isinstance(self.extra.get(key), int | float):
                self.extra[key] += value
            elif isinstance(value, list) and isinstance(self.extra.get(key), list):
                self.extra[key].extend(value)
            else:
                self.extra.setdefault(key, value)


class Probe:
    """Records deliveries as they arrive; ``count`` feeds the progress bar."""

    __slots__ = ("count", "result", "start_ns")

    def __init__(self, result: WorkerResult) -> None:
        self.result = result
        self.count = 0
        self.start_ns = 0

    def followed(self, ledger: Ledger, frame: dict[str, Any], now_ns: int) -> None:
        """An event of a followed conversation: its seq goes to ``ledger``, and a message
        counts as a delivery. Events without a seq (typing, read) are neither."""
        seq = frame.get("seq")
        if seq is None:
            return
        ledger.seqs.append(seq)
        if frame["event"] == "new_message":
            self.delivered(stamped_at(frame["data"].get("content")), now_ns)

    def delivered(self, sent_ns: int | None, now_ns: int) -> None:
        self.count += 1
        if sent_ns is not None and self.start_ns:
            self.result.latencies.append((now_ns - sent_ns) // 1000)
            self.result.receipts.append((now_ns - self.start_ns) // 1_000_000)


class Load:
    """Base of every scenario's worker side. ``plan`` is what the coordinator built for
    this worker (picklable); ``probe`` records deliveries."""

    def __init__(self, plan: Any, probe: Probe) -> None:
        self.plan = plan
        self.probe = probe
        self.result = probe.result

    async def prepare(self) -> None:
        """Connect and subscribe; return when the load may start."""

    async def run(self, start_ns: int, stop_ns: int) -> None:
        """Generate load from ``start_ns`` until ``stop_ns`` (monotonic)."""

    async def drain(self, deadline_ns: int) -> None:
        """Wait for what is in flight, until ``deadline_ns`` at the latest."""

    async def finish(self) -> WorkerResult:
        """Check deliveries, close sockets, return the result."""
        return self.result
