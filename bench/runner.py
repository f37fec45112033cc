"""Run a scenario's ``Load`` in worker processes and measure the gateways meanwhile.

The coordinator (this process) starts one process per plan, waits until every worker has
connected, sets one shared start time, shows a progress bar while the load runs, and reads
the CPU time and memory of the gateway processes (and of the workers themselves) at the
start and end of the measured window. Workers then drain and send back their results.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import psutil
import uvloop
from tqdm import tqdm

from bench.load import Load, Probe, WorkerResult
from bench.nodes import Topology, Usage

__all__ = ["Outcome", "run"]

#: Seconds workers get to connect and subscribe.
PREPARE_SECONDS = 300.0
#: Lead time between "everyone is ready" and the shared start.
LEAD_NS = 300_000_000


@dataclass
class Outcome:
    """A run's merged results and the resource use measured around its window."""

    result: WorkerResult
    duration: float
    server_before: Usage
    server_after: Usage
    client_cpu: list[float]
    redis_cpu: float
    database_cpu: float
    machine_cpu: float
    timeline: list[dict[str, float]] = field(default_factory=list)
    prepare_seconds: float = 0.0


def run(
    load: type[Load],
    plans: list[Any],
    topology: Topology,
    *,
    duration: float,
    drain: float = 10.0,
    label: str = "",
    progress: bool = True,
) -> Outcome:
    """Run ``load`` with one worker process per plan for ``duration`` seconds."""
    context = multiprocessing.get_context("spawn")
    counters = context.Array("q", len(plans), lock=False)
    go = context.Value("q", 0, lock=False)
    pipes: list[Connection] = []
    workers = []
    path = f"{load.__module__}:{load.__qualname__}"
    for index, plan in enumerate(plans):
        parent, child = context.Pipe()
        worker = context.Process(
            target=_worker_main,
            args=(path, plan, index, counters, go, duration, drain, child),
            daemon=True,
        )
        worker.start()
        child.close()
        pipes.append(parent)
        workers.append(worker)
    try:
        return _coordinate(pipes, workers, counters, go, topology, duration, drain, label, progress)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()


def _coordinate(
    pipes: list[Connection],
    workers: list[Any],
    counters: Any,
    go: Any,
    topology: Topology,
    duration: float,
    drain: float,
    label: str,
    progress: bool,
) -> Outcome:
    began = time.monotonic()
    for pipe in pipes:
        if not pipe.poll(PREPARE_SECONDS):
            raise RuntimeError("a worker did not get ready in time")
        message = pipe.recv()
        if message != "ready":
            raise RuntimeError(f"a worker failed while preparing:\n{message}")
    prepare_seconds = time.monotonic() - began
    servers = topology.processes
    clients = [psutil.Process(w.pid) for w in workers]
    start_ns = time.monotonic_ns() + LEAD_NS
    go.value = start_ns
    time.sleep(LEAD_NS / 1e9)

    psutil.cpu_percent()  # starts the machine-wide measurement
    server_before = Usage.of(servers)
    client_before = [Usage.of([c]).cpu for c in clients]
    redis_before = Usage.of(topology.redis_processes).cpu
    database = topology.database_processes
    database_before = Usage.of(database).cpu
    timeline = _watch(counters, servers, start_ns, duration, label, progress)
    server_after = Usage.of(servers)
    client_cpu = [Usage.of([c]).cpu - b for c, b in zip(clients, client_before, strict=True)]
    redis_cpu = Usage.of(topology.redis_processes).cpu - redis_before
    database_cpu = Usage.of(database).cpu - database_before
    machine_cpu = psutil.cpu_percent() / 100 * (psutil.cpu_count() or 1)

    merged = WorkerResult()
    for pipe in pipes:
        if not pipe.poll(duration + drain + 120):
            raise RuntimeError("a worker did not report back")
        message = pipe.recv()
        if isinstance(message, str):
            raise RuntimeError(f"a worker failed:\n{message}")
        merged.merge(message)
    return Outcome(
        merged,
        duration,
        server_before,
        server_after,
        client_cpu,
        redis_cpu,
        database_cpu,
        machine_cpu,
        timeline,
        prepare_seconds,
    )


def _watch(
    counters: Any,
    servers: list[psutil.Process],
    start_ns: int,
    duration: float,
    label: str,
    progress: bool,
) -> list[dict[str, float]]:
    """Show progress until the window ends; one sample per second for the chart."""
    timeline: list[dict[str, float]] = []
    total = round(duration)
    bar = tqdm(total=total, unit="s", desc=label or "load", disable=not progress, leave=True)
    last_count, last_cpu, last_t = 0, Usage.of(servers).cpu, time.monotonic()
    end = start_ns + int(duration * 1e9)
    while (now_ns := time.monotonic_ns()) < end:
        time.sleep(min(1.0, (end - now_ns) / 1e9))
        count, cpu, now = sum(counters), Usage.of(servers).cpu, time.monotonic()
        elapsed = now - last_t
        rate = (count - last_count) / elapsed
        cores = (cpu - last_cpu) / elapsed
        timeline.append({"t": (time.monotonic_ns() - start_ns) / 1e9, "rate": rate, "cores": cores})
        bar.set_postfix_str(f"{rate:,.0f} deliveries/s, gateways {cores:.2f} cores")
        bar.update(min(round((now_ns - start_ns) / 1e9) + 1, total) - bar.n)
        last_count, last_cpu, last_t = count, cpu, now
    bar.update(total - bar.n)
    bar.close()
    return timeline


# -- worker process ------------------------------------------------------------------------


def _worker_main(
    path: str,
    plan: Any,
    index: int,
    counters: Any,
    go: Any,
    duration: float,
    drain: float,
    pipe: Connection,
) -> None:
    module, _, name = path.partition(":")
    load_class: type[Load] = getattr(importlib.import_module(module), name)
    try:
        result = uvloop.run(
            _worker(load_class, plan, index, counters, go, duration, drain, pipe.send)
        )
    except BaseException:
        import traceback

        pipe.send(traceback.format_exc())
        return
    pipe.send(result)


async def _worker(
    load_class: type[Load],
    plan: Any,
    index: int,
    counters: Any,
    go: Any,
    duration: float,
    drain: float,
    send: Callable[[Any], None],
) -> WorkerResult:
    probe = Probe(WorkerResult())
    load = load_class(plan, probe)
    await load.prepare()
    send("ready")
    while not go.value:  # noqa: ASYNC110 (set by another process)
        await asyncio.sleep(0.005)
    start_ns: int = go.value
    probe.start_ns = start_ns
    stop_ns = start_ns + int(duration * 1e9)
    reporter = asyncio.create_task(_report(probe, counters, index))
    try:
        await asyncio.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
        await load.run(start_ns, stop_ns)
        await load.drain(stop_ns + int(drain * 1e9))
        return await load.finish()
    finally:
        reporter.cancel()


async def _report(probe: Probe, counters: Any, index: int) -> None:
    while True:
        counters[index] = probe.count
        await asyncio.sleep(0.1)
