"""Rate limiting (GCRA): one contract over the memory limiter, three standalone Redis nodes
and a Redis Cluster; placement, failures, and the Lua script against ``gcra()``."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bench.services import RedisClusterProcesses, RedisServer, free_port
from gateway.limits.factory import create_rate_limiter
from gateway.limits.gcra import Decision, Rate, RateLimiter, RateLimiterUnavailable, gcra
from gateway.limits.memory import MemoryRateLimiter
from gateway.limits.redis import KEY_PREFIX, RedisRateLimiter
from tests.support import timeout

FAST = Rate(5, 0.5)  # T = 0.1 s: refills quickly enough for tests that wait
SLOW = Rate(10, 60.0)  # no refill within a test
MARGIN = 0.02

MakeLimiter = Callable[[], Awaitable[RateLimiter]]


def unique(name: str) -> str:
    """A key no other test (or earlier run against the module's servers) uses."""
    return f"{name}:{uuid.uuid4().hex[:12]}"


@pytest.fixture(
    params=[
        "memory",
        pytest.param("standalone", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.redis),
    ]
)
def redis_url(request: pytest.FixtureRequest) -> str:
    """The broker URL each backend is built from ("" = in process)."""
    if request.param == "standalone":
        nodes: list[RedisServer] = request.getfixturevalue("redis_nodes")
        return ",".join(node.url for node in nodes)
    if request.param == "cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        return cluster.url
    return ""


@pytest.fixture(
    params=[
        pytest.param("standalone", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.redis),
    ]
)
def shared_url(request: pytest.FixtureRequest) -> str:
    """A Redis deployment (standalone nodes or a cluster)."""
    if request.param == "standalone":
        nodes: list[RedisServer] = request.getfixturevalue("redis_nodes")
        return ",".join(node.url for node in nodes)
    cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
    return cluster.url


async def _factory(url: str) -> AsyncIterator[MakeLimiter]:
    created: list[RateLimiter] = []

    async def make() -> RateLimiter:
        limiter = create_rate_limiter(url)
        await limiter.start()
        created.append(limiter)
        return limiter

    yield make
    for limiter in created:
        await limiter.aclose()


@pytest.fixture
async def make_limiter(redis_url: str) -> AsyncIterator[MakeLimiter]:
    """Started limiters on each backend, closed after the test."""
    async for make in _factory(redis_url):
        yield make


@pytest.fixture
async def make_shared(shared_url: str) -> AsyncIterator[MakeLimiter]:
    """Started Redis limiters ("processes") on one deployment, closed after the test."""
    async for make in _factory(shared_url):
        yield make


# -- the algorithm ------------------------------------------------------------------------


def test_gcra_allows_a_burst_of_limit_then_spaces_requests_by_the_interval() -> None:
    """From an empty key: limit hits pass with remaining counting down, the next waits one
    interval; after that interval exactly one more passes."""
    tat: float | None = None
    for expected in (4, 3, 2, 1, 0):
        new_tat, decision = gcra(tat, 100.0, FAST, 1)
        assert decision.allowed and decision.remaining == expected
        assert decision.retry_after == 0
        tat = new_tat
    assert tat == pytest.approx(100.5)
    new_tat, denied = gcra(tat, 100.0, FAST, 1)
    assert new_tat is None
    assert denied == Decision(False, 5, 0, 0.5, 0.1)
    _, allowed = gcra(tat, 100.1, FAST, 1)
    assert allowed == Decision(True, 5, 0, 0.5, 0.0)


def test_gcra_costs_and_oversized_requests() -> None:
    """A cost counts as that many hits; a cost above the limit never fits (inf), and a
    bad cost or rate is refused."""
    tat, decision = gcra(None, 0.0, FAST, 3)
    assert decision.allowed and decision.remaining == 2 and decision.reset_after == 0.3
    new_tat, denied = gcra(tat, 0.0, FAST, 3)
    assert new_tat is None and denied.remaining == 2 and denied.retry_after == 0.1
    _, never = gcra(None, 0.0, FAST, 6)
    assert not never.allowed and never.retry_after == math.inf and never.remaining == 5
    with pytest.raises(ValueError):
        gcra(None, 0.0, FAST, 0)
    for limit, period in ((0, 1.0), (1, 0.0), (1, -1.0), (1, math.inf), (10, 0.000001)):
        with pytest.raises(ValueError):
            Rate(limit, period)


# -- the contract, on every backend ---------------------------------------------------------


async def test_rate_limiter_allows_a_burst_then_denies_until_retry_after(
    make_limiter: MakeLimiter,
) -> None:
    """Exactly limit hits pass with remaining counting down and reset_after growing; the
    next is denied with remaining 0 and retry_after > 0; after retry_after one more passes."""
    limiter = await make_limiter()
    key = unique("burst")
    decisions = [await limiter.hit(key, FAST) for _ in range(FAST.limit)]
    assert all(d.allowed and d.retry_after == 0 and d.limit == 5 for d in decisions)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    resets = [d.reset_after for d in decisions]
    assert resets == sorted(resets) and resets[0] < resets[-1] <= FAST.period
    denied = await limiter.hit(key, FAST)
    assert not denied.allowed and denied.remaining == 0 and denied.retry_after > 0
    await asyncio.sleep(denied.retry_after + MARGIN)
    assert (await limiter.hit(key, FAST)).allowed


async def test_rate_limiter_keys_are_independent(make_limiter: MakeLimiter) -> None:
    """Exhausting one key leaves another untouched."""
    limiter = await make_limiter()
    first, second = unique("first"), unique("second")
    for _ in range(SLOW.limit):
        await limiter.hit(first, SLOW)
    assert not (await limiter.hit(first, SLOW)).allowed
    fresh = await limiter.hit(second, SLOW)
    assert fresh.allowed and fresh.remaining == SLOW.limit - 1


async def test_rate_limiter_denied_hits_do_not_consume(make_limiter: MakeLimiter) -> None:
    """Hammering a full bucket does not push the next allowed time further away."""
    limiter = await make_limiter()
    key = unique("denied")
    for _ in range(FAST.limit):
        await limiter.hit(key, FAST)
    first = await limiter.hit(key, FAST)
    assert not first.allowed
    for _ in range(10):
        again = await limiter.hit(key, FAST)
        assert not again.allowed and again.retry_after <= first.retry_after
    await asyncio.sleep(first.retry_after + MARGIN)
    assert (await limiter.hit(key, FAST)).allowed


async def test_rate_limiter_cost_above_limit_is_never_allowed(make_limiter: MakeLimiter) -> None:
    """A request bigger than the bucket is denied with retry_after inf and costs nothing."""
    limiter = await make_limiter()
    key = unique("huge")
    never = await limiter.hit(key, SLOW, SLOW.limit + 1)
    assert not never.allowed and never.retry_after == math.inf
    assert never.remaining == SLOW.limit and never.reset_after == 0
    whole = await limiter.hit(key, SLOW, SLOW.limit)
    assert whole.allowed and whole.remaining == 0
    with pytest.raises(ValueError):
        await limiter.hit(key, SLOW, 0)


async def test_rate_limiter_concurrent_hits_allow_exactly_limit(
    make_limiter: MakeLimiter,
) -> None:
    """50 concurrent hits on one key with limit 10: exactly 10 pass."""
    limiter = await make_limiter()
    key = unique("concurrent")
    decisions = await asyncio.gather(*(limiter.hit(key, SLOW) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == SLOW.limit
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(SLOW.limit))


# -- Redis: shared buckets, placement, the script -------------------------------------------


async def test_redis_rate_limiters_share_buckets_across_processes(
    make_shared: MakeLimiter,
) -> None:
    """Two limiters on one deployment, 2 x 20 concurrent hits: exactly limit pass in total."""
    one, two = await make_shared(), await make_shared()
    key = unique("shared")
    decisions = await asyncio.gather(
        *(limiter.hit(key, SLOW) for limiter in (one, two) for _ in range(20))
    )
    assert sum(d.allowed for d in decisions) == SLOW.limit


async def test_redis_rate_limiter_spreads_keys_over_standalone_nodes(
    redis_nodes: list[RedisServer],
) -> None:
    """Buckets land on more than one node, each on exactly its rendezvous node, whichever
    limiter hits it."""
    url = ",".join(node.url for node in redis_nodes)
    prefix = unique("spread")
    keys = [f"{prefix}:{n}" for n in range(30)]
    async with RedisRateLimiter(url) as one, RedisRateLimiter(url) as two:
        for key in keys:
            await one.hit(key, SLOW)
            await two.hit(key, SLOW)
        placed = {
            f"127.0.0.1:{node.port}": set(node.cli("KEYS", f"{KEY_PREFIX}{prefix}:*").split())
            for node in redis_nodes
        }
        assert sum(1 for held in placed.values() if held) > 1
        for key in keys:
            holders = [name for name, held in placed.items() if KEY_PREFIX + key in held]
            assert holders == [one.node_for(key)] == [two.node_for(key)]
        assert (await one.hit(keys[0], SLOW)).remaining == SLOW.limit - 3


async def test_redis_rate_limiter_keys_expire_when_the_bucket_is_full(
    redis_nodes: list[RedisServer],
) -> None:
    """The bucket's key carries a TTL of the time until it is full again."""
    async with RedisRateLimiter(",".join(node.url for node in redis_nodes)) as limiter:
        key = unique("ttl")
        await limiter.hit(key, SLOW, 3)
        node = next(n for n in redis_nodes if f"127.0.0.1:{n.port}" == limiter.node_for(key))
        ttl = int(node.cli("PTTL", KEY_PREFIX + key))
        assert 17_000 < ttl <= 18_000


async def test_redis_rate_limiter_script_mirrors_gcra(make_shared: MakeLimiter) -> None:
    """On the server's own timeline, the Lua script and gcra() take the same decisions."""
    limiter = await make_shared()
    assert isinstance(limiter, RedisRateLimiter)
    rate = Rate(4, 0.2)  # T = 50 ms
    key = unique("mirror")
    steps = [(0.0, 1)] * 5 + [(0.0, 2), (0.06, 1), (0.0, 1), (0.0, 5), (0.21, 3), (0.0, 2)]
    steps += [(0.12, 2), (0.0, 1), (0.3, 4), (0.0, 1)]
    tat: float | None = None
    seen = []
    for pause, cost in steps:
        if pause:
            await asyncio.sleep(pause)
        decision, now = await limiter._evaluate(key, rate, cost)
        new_tat, expected = gcra(tat, now, rate, cost)
        assert decision == expected, (pause, cost, now, tat)
        if new_tat is not None:
            tat = new_tat
        seen.append(decision.allowed)
    assert True in seen and False in seen


# -- failures -------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_rate_limiter_raises_unavailable_when_redis_goes_away(
    redis_binaries: None,
) -> None:
    """A node that dies turns hits into RateLimiterUnavailable (nothing else), quickly;
    when it is back, hits pass again."""
    node = RedisServer().start()
    try:
        async with RedisRateLimiter(node.url) as limiter:
            assert (await limiter.hit("down", SLOW)).allowed
            node.kill()
            for _ in range(3):
                async with asyncio.timeout(timeout(5)):
                    with pytest.raises(RateLimiterUnavailable, match=str(node.port)):
                        await limiter.hit("down", SLOW)
            node.start()
            assert (await limiter.hit("down", SLOW)).allowed
    finally:
        node.stop()


@pytest.mark.redis
async def test_redis_rate_limiter_skips_a_silent_node_until_it_answers(
    redis_binaries: None,
) -> None:
    """A node that stops answering (SIGSTOP) costs one timeout: the hits after it fail at
    once without waiting on the node (three within 1 s, where each took the 1 s timeout
    before), and hits pass again soon after it answers."""
    node = RedisServer().start()
    assert node.process is not None
    try:
        async with RedisRateLimiter(node.url) as limiter:
            assert (await limiter.hit("silent", SLOW)).allowed
            os.kill(node.process.pid, signal.SIGSTOP)
            try:
                with pytest.raises(RateLimiterUnavailable, match="did not answer within"):
                    await limiter.hit("silent", SLOW)
                async with asyncio.timeout(timeout(1)):
                    for _ in range(3):
                        with pytest.raises(RateLimiterUnavailable, match="has not answered"):
                            await limiter.hit("silent", SLOW)
            finally:
                os.kill(node.process.pid, signal.SIGCONT)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout(5)
            while True:
                try:
                    assert (await limiter.hit("silent", SLOW)).allowed
                    break
                except RateLimiterUnavailable:
                    assert loop.time() < deadline, "still skipped after the node answered"
                    await asyncio.sleep(0.05)
    finally:
        node.stop()


@pytest.mark.redis
@pytest.mark.parametrize("scheme", ["redis://", "redis+cluster://"])
async def test_redis_rate_limiter_raises_unavailable_on_a_closed_port(
    redis_binaries: None, scheme: str
) -> None:
    """Nothing listening (standalone or cluster seed): RateLimiterUnavailable, quickly."""
    async with RedisRateLimiter(f"{scheme}127.0.0.1:{free_port()}") as limiter:
        async with asyncio.timeout(timeout(5)):
            with pytest.raises(RateLimiterUnavailable):
                await limiter.hit("closed", SLOW)


async def test_redis_rate_limiter_misuse() -> None:
    """A bad URL is a ValueError; hitting before start or after aclose is a RuntimeError."""
    for bad in ("http://x", "redis://a:1,redis://a:1"):
        with pytest.raises(ValueError):
            RedisRateLimiter(bad)
    limiter = RedisRateLimiter("redis://127.0.0.1:1")
    with pytest.raises(RuntimeError):
        await limiter.hit("early", SLOW)
    await limiter.start()
    with pytest.raises(RuntimeError):
        await limiter.start()
    await limiter.aclose()
    await limiter.aclose()
    with pytest.raises(RuntimeError):
        await limiter.hit("late", SLOW)
    assert isinstance(create_rate_limiter(""), MemoryRateLimiter)
    assert isinstance(create_rate_limiter("redis+cluster://a:7000"), RedisRateLimiter)


# -- memory: bounded --------------------------------------------------------------------------


async def test_memory_rate_limiter_drops_idle_and_least_recent_keys() -> None:
    """Keys whose bucket is full again are swept; past max_keys the least recently hit go,
    and the ones kept keep their state."""
    async with MemoryRateLimiter(max_keys=3, sweep_interval=0.0) as limiter:
        for key in ("a", "b", "c", "d"):
            await limiter.hit(key, SLOW)
        assert len(limiter) == 3
        assert (await limiter.hit("d", SLOW)).remaining == SLOW.limit - 2
        assert (await limiter.hit("a", SLOW)).remaining == SLOW.limit - 1  # forgotten
        await limiter.hit("short", Rate(1, 0.01))
        await asyncio.sleep(0.02)
        await limiter.hit("d", SLOW)  # sweeps "short", whose bucket is full again
        assert len(limiter) == 2
        assert (await limiter.hit("d", SLOW)).remaining == SLOW.limit - 4
