"""Fair claims of the outbox: which due rows a claim leases. Pure; both backends use it.

Inside its claim transaction (claims are serialized: SQLite's one writer, an advisory lock
on PostgreSQL), a backend reads

- the attempts in flight: leased rows whose lease still runs, per receiver and per org
  (a receiver is a webhook endpoint or a widget's live-agent platform);
- for each receiver with pending rows and room under its cap, its first due rows (as many as
  that room), numbered by ``turn`` from 0; a paused endpoint has no room;
- the due timers, which send nothing and count against no cap.

``pick`` then takes them turn by turn: the first due row of every receiver, then the second of
every receiver, ..., oldest first within a turn, skipping rows of an org at its cap, up to
the claim's limit. So a receiver that hangs holds at most its cap of attempts and is never in
the way of another receiver's first row, and an org with many failing endpoints holds at
most its own cap.

The cost of a claim grows with the number of receivers that have pending rows (one index
probe each), not with the rows waiting: a receiver at its cap is not read at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["UNCAPPED", "Candidate", "pick", "room"]

#: What a missing cap is handed to SQL as.
UNCAPPED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due row that a claim may lease."""

    id: str
    org_id: str
    #: 0 for its receiver's first due row, 1 for the second...
    turn: int
    due: datetime
    position: int
    #: False for timers: they send nothing, so no receiver or org cap applies.
    capped: bool = True


def room(cap: int | None, busy: int) -> int:
    """How many more attempts a cap leaves room for, with ``busy`` in flight."""
    return UNCAPPED if cap is None else max(cap - busy, 0)


def pick(
    candidates: Iterable[Candidate],
    busy_by_org: Mapping[str, int],
    per_org: int | None,
    limit: int,
) -> list[str]:
    """The ids to lease, in the order they should be sent."""
    taken: Counter[str] = Counter()
    picked: list[str] = []
    for candidate in sorted(candidates, key=lambda c: (c.turn, c.due, c.position)):
        if len(picked) >= limit:
            break
        if candidate.capped:
            if room(per_org, busy_by_org.get(candidate.org_id, 0) + taken[candidate.org_id]) <= 0:
                continue
            taken[candidate.org_id] += 1
        picked.append(candidate.id)
    return picked
