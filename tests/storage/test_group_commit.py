"""``GroupCommit``: calls made together share a batch, calls queued while batches run form the
next, each caller gets its own outcome, and nobody hears back before its batch is done."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from storage.postgres.group_commit import GroupCommit


class Recorder:
    """A ``commit`` that records its batches (``entered`` is set on each), answers ``n * 10``
    (a ``ValueError`` for a negative unit), and waits for ``release`` before it answers."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, units: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(units))
        self.entered.set()
        await self.release.wait()
        return [ValueError(n) if n < 0 else n * 10 for n in units]


async def test_group_commit_calls_made_together_share_one_batch() -> None:
    """Calls made in one loop iteration go in one batch, each answered with its own result."""
    commit = Recorder()
    group = GroupCommit(commit)
    assert await asyncio.gather(*(group.submit(n) for n in range(5))) == [0, 10, 20, 30, 40]
    assert commit.batches == [[0, 1, 2, 3, 4]]
    await group.aclose()


async def test_group_commit_calls_queued_meanwhile_form_the_next_batch() -> None:
    """With the most batches in flight, later calls wait and then share the next batch, no
    larger than ``max_batch``; no caller is answered before its own batch is done."""
    commit = Recorder()
    commit.release.clear()
    group = GroupCommit(commit, max_batch=3, max_in_flight=1)
    first = asyncio.create_task(group.submit(1))
    await commit.entered.wait()
    later = [asyncio.create_task(group.submit(n)) for n in range(2, 7)]
    await asyncio.sleep(0)  # one loop iteration: each of them submits
    assert commit.batches == [[1]] and not first.done()
    commit.release.set()
    assert await asyncio.gather(first, *later) == [10, 20, 30, 40, 50, 60]
    assert commit.batches == [[1], [2, 3, 4], [5, 6]]
    await group.aclose()


async def test_group_commit_a_failed_unit_fails_alone() -> None:
    """A unit answered with an exception raises it for its caller only."""
    group = GroupCommit(Recorder())
    outcomes = await asyncio.gather(*(group.submit(n) for n in (1, -1, 2)), return_exceptions=True)
    assert outcomes[0] == 10 and outcomes[2] == 20
    assert isinstance(outcomes[1], ValueError)
    await group.aclose()


async def test_group_commit_a_failed_batch_fails_every_caller() -> None:
    """A commit that raises fails every unit of its batch with that error."""

    async def broken(units: Sequence[int]) -> list[int | BaseException]:
        raise OSError("connection lost")

    group: GroupCommit[int, int] = GroupCommit(broken)
    outcomes = await asyncio.gather(*(group.submit(n) for n in range(3)), return_exceptions=True)
    assert all(isinstance(o, OSError) for o in outcomes)
    await group.aclose()


async def test_group_commit_cancelled_caller_leaves_its_unit_to_run() -> None:
    """A caller that stops waiting does not take its unit out of the batch; aclose waits for
    the batch and then refuses new units."""
    commit = Recorder()
    commit.release.clear()
    group = GroupCommit(commit)
    caller = asyncio.create_task(group.submit(1))
    await commit.entered.wait()
    caller.cancel()
    closing = asyncio.create_task(group.aclose())
    await asyncio.sleep(0)
    assert not closing.done()
    commit.release.set()
    await closing
    assert commit.batches == [[1]]
    with pytest.raises(RuntimeError):
        await group.submit(2)
