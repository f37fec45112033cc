"""A conversation's event log as the client has it (the JavaScript SDK's ``seqlog.ts``).

``last_seq`` is the highest seq handed out in order; events that skip ahead are held until
what comes before them arrives (live, by a resume, or by backfill). Every seq is handed out at
most once, in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.client.types import JSONObject

__all__ = ["Gap", "SeqLog"]


@dataclass(frozen=True, slots=True)
class Gap:
    """The missing seqs are ``after_seq + 1 .. before_seq - 1``."""

    after_seq: int
    before_seq: int


class SeqLog:
    def __init__(self, last_seq: int = 0) -> None:
        self.last_seq = last_seq
        # Held back by seq; ``None`` marks a seq known to carry nothing to hand out.
        self._held: dict[int, JSONObject | None] = {}

    def accept(self, seq: int, frame: JSONObject) -> list[JSONObject]:
        """Takes one event frame; returns the frames now deliverable, in seq order."""
        return self.fill([(seq, frame)])

    def fill(self, entries: Iterable[tuple[int, JSONObject | None]]) -> list[JSONObject]:
        """Takes frames by seq (``None``: nothing to hand out for it); the first one given
        for a seq wins. Returns the frames now deliverable, in seq order."""
        for seq, frame in entries:
            if seq > self.last_seq and seq not in self._held:
                self._held[seq] = frame
        ready: list[JSONObject] = []
        while self.last_seq + 1 in self._held:
            self.last_seq += 1
            frame = self._held.pop(self.last_seq)
            if frame is not None:
                ready.append(frame)
        return ready

    @property
    def gap(self) -> Gap | None:
        """The first run of missing seqs, or ``None`` when nothing is held back."""
        if not self._held:
            return None
        return Gap(self.last_seq, min(self._held))

    def reset(self, last_seq: int) -> None:
        """Starts over from ``last_seq``, forgetting what was held."""
        self.last_seq = last_seq
        self._held.clear()
