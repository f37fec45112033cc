"""Delivery checks: every subscription's received seqs against what the conversation stored.

A subscription starts at the ``last_seq`` its ``subscribe`` (or ``hello`` resume) answered
and must then receive every seq up to the conversation's final ``last_seq``: each exactly
once, in increasing order. ``lost`` counts seqs never received, ``duplicated`` extra copies,
``out_of_order`` receipts that came after a higher seq, ``unexpected`` seqs at or before the
start.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

__all__ = ["Checks", "Ledger"]


class Ledger:
    """The seqs one subscriber received from one conversation, in arrival order."""

    __slots__ = ("seqs", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.seqs = array("l")

    @property
    def last(self) -> int:
        """The last seq received (the start before any)."""
        return self.seqs[-1] if self.seqs else self.start

    def check(self, final: int) -> Checks:
        received = set(self.seqs)
        expected = range(self.start + 1, final + 1)
        out_of_order = 0
        highest = self.start
        for seq in self.seqs:
            if seq < highest:
                out_of_order += 1
            highest = max(highest, seq)
        return Checks(
            subscriptions=1,
            expected=len(expected),
            received=len(self.seqs),
            lost=sum(1 for seq in expected if seq not in received),
            duplicated=len(self.seqs) - len(received),
            out_of_order=out_of_order,
            unexpected=sum(1 for seq in received if seq <= self.start),
            beyond=sum(1 for seq in received if seq > final),
        )


@dataclass(slots=True)
class Checks:
    """Sums over subscriptions; ``ok`` when nothing was lost, doubled or reordered."""

    subscriptions: int = 0
    expected: int = 0
    received: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    #: Seqs at or below the start: a resume that replayed what the client already had.
    unexpected: int = 0
    #: Seqs above the final seq the run last knew of: stored after its last look (an
    #: overloaded gateway still working through sends). Not a failure; reported.
    beyond: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order or self.unexpected)

    def __add__(self, other: Checks) -> Checks:
        return Checks(
            self.subscriptions + other.subscriptions,
            self.expected + other.expected,
            self.received + other.received,
            self.lost + other.lost,
            self.duplicated + other.duplicated,
            self.out_of_order + other.out_of_order,
            self.unexpected + other.unexpected,
            self.beyond + other.beyond,
        )
