"""A run's figures: the summary (printed, and saved as JSON) and its chart (PNG).

Deliveries, latencies and CPU are taken over the measured window only (from the shared
start for ``duration`` seconds); checks cover every delivery, drain included. Server CPU is
the gateway processes' own CPU time (user + system); Redis and PostgreSQL are reported apart
(PostgreSQL not at all: its backends are not ours to find).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.runner import Outcome

__all__ = ["chart", "percentiles", "print_summary", "summarise", "write"]

#: A worker using this much of a core cannot be trusted to keep up.
CLIENT_BUSY = 0.85
#: Sends this late (p99, ms) mean the client fell behind its schedule.
CLIENT_LATE_MS = 5.0


def percentiles(values: Any) -> dict[str, float]:
    """p50/p90/p99/max of ``values`` in microseconds, reported in milliseconds."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    p50, p90, p99 = (float(p) for p in np.percentile(data, [50, 90, 99]))
    return {
        "p50": round(p50 / 1000, 2),
        "p90": round(p90 / 1000, 2),
        "p99": round(p99 / 1000, 2),
        "max": round(float(data.max()) / 1000, 2),
    }


def summarise(
    scenario: str, options: dict[str, Any], topology: dict[str, Any], outcome: Outcome
) -> dict[str, Any]:
    result = outcome.result
    receipts = np.asarray(result.receipts)
    latencies = np.asarray(result.latencies)
    in_window = (receipts >= 0) & (receipts < outcome.duration * 1000)
    deliveries = int(in_window.sum())
    server_cpu = outcome.server_after.cpu - outcome.server_before.cpu
    lag = percentiles(result.lag)
    busiest = max(outcome.client_cpu, default=0.0) / outcome.duration
    cores = os.cpu_count() or 1
    saturated = outcome.machine_cpu > 0.95 * cores
    reasons, notes = [], []
    if busiest > CLIENT_BUSY:
        reasons.append(f"a load worker used {busiest:.2f} of a core")
    if lag["p99"] > CLIENT_LATE_MS:
        # Late sends mean the load was not offered on time: a busy client, a machine with
        # no core to spare, or a full in-flight window (the gateway answering slower than
        # the rate). Only the first two are the client's doing.
        late = f"sends left {lag['p99']} ms late (p99)"
        if busiest > CLIENT_BUSY or saturated:
            reasons.append(late)
        else:
            notes.append(late + ": the gateway did not keep up with the offered rate")
    summary: dict[str, Any] = {
        "scenario": scenario,
        "options": options,
        "topology": topology,
        "window_seconds": outcome.duration,
        "deliveries": deliveries,
        "deliveries_per_second": round(deliveries / outcome.duration),
        "latency_ms": percentiles(latencies[in_window]),
        "server": {
            "cpu_seconds": round(server_cpu, 3),
            "cores": round(server_cpu / outcome.duration, 3),
            "cpu_us_per_delivery": round(server_cpu * 1e6 / deliveries, 2) if deliveries else None,
            "kernel_share": round(
                (outcome.server_after.system - outcome.server_before.system) / server_cpu, 2
            )
            if server_cpu
            else 0.0,
            "rss_mb": round(outcome.server_after.rss / 2**20, 1),
        },
        "redis_cores": round(outcome.redis_cpu / outcome.duration, 3),
        "postgres_cores": round(outcome.database_cpu / outcome.duration, 3),
        "client": {
            "workers": len(outcome.client_cpu),
            "cores": round(sum(outcome.client_cpu) / outcome.duration, 3),
            "busiest_worker_cores": round(busiest, 3),
            "send_lag_ms": lag,
            "bottleneck": bool(reasons),
            "why": "; ".join(reasons),
            "notes": "; ".join(notes),
        },
        "machine": {
            "cores": cores,
            "cores_used": round(outcome.machine_cpu, 2),
            "saturated": saturated,
        },
        "sent": result.sent,
        "acked": result.acked,
        "errors": result.errors,
        "checks": {
            "ok": result.checks.ok,
            "subscriptions": result.checks.subscriptions,
            "expected": result.checks.expected,
            "received": result.checks.received,
            "lost": result.checks.lost,
            "duplicated": result.checks.duplicated,
            "out_of_order": result.checks.out_of_order,
            "unexpected": result.checks.unexpected,
            "beyond_final": result.checks.beyond,
        },
        "prepare_seconds": round(outcome.prepare_seconds, 2),
        "timeline": outcome.timeline,
    }
    summary.update(result.extra)
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    server, client, checks = summary["server"], summary["client"], summary["checks"]
    latency = summary["latency_ms"]
    lines = [
        f"{summary['scenario']}: {summary['deliveries_per_second']:,} deliveries/s over "
        f"{summary['window_seconds']:g} s ({summary['deliveries']:,} deliveries)",
        f"  latency ms   p50 {latency['p50']}  p90 {latency['p90']}  p99 {latency['p99']}  "
        f"max {latency['max']}",
        f"  gateways     {server['cores']} cores, {server['cpu_us_per_delivery']} us CPU per "
        f"delivery ({server['kernel_share']:.0%} in the kernel), {server['rss_mb']} MB RSS",
        f"  redis        {summary['redis_cores']} cores; "
        f"postgres {summary['postgres_cores']} cores",
        f"  load client  {client['cores']} cores over {client['workers']} workers"
        + (f"  CLIENT-BOUND: {client['why']}" if client["bottleneck"] else "  (not the bottleneck)")
        + (f"; {client['notes']}" if client["notes"] else ""),
        f"  machine      {summary['machine']['cores_used']} of {summary['machine']['cores']} "
        "cores busy" + ("  SATURATED" if summary["machine"]["saturated"] else ""),
        f"  sent {summary['sent']:,}, acked {summary['acked']:,}, errors {summary['errors'] or 0}",
        f"  checks       {'OK' if checks['ok'] else 'FAILED'}: {checks['subscriptions']:,} "
        f"subscriptions, {checks['received']:,} of {checks['expected']:,} events, "
        f"lost {checks['lost']}, duplicated {checks['duplicated']}, "
        f"out of order {checks['out_of_order']}, unexpected {checks['unexpected']}",
    ]
    for key in summary.get("report_keys", []):
        lines.append(f"  {key:<12} {summary[key]}")
    print("\n".join(lines), flush=True)


def write(summary: dict[str, Any], outcome: Outcome, out: Path, name: str) -> tuple[Path, Path]:
    """``NAME.json`` and ``NAME.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / f"{name}.json"
    json_path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    png_path = out / f"{name}.png"
    chart(summary, outcome, png_path)
    return json_path, png_path


def chart(summary: dict[str, Any], outcome: Outcome, path: Path) -> None:
    """Throughput and gateway CPU over time, latency percentiles per second, latency CDF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    receipts = np.asarray(outcome.result.receipts)
    latencies = np.asarray(outcome.result.latencies) / 1000
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(9, 10), constrained_layout=True)
    fig.suptitle(_title(summary))

    times = [point["t"] for point in summary["timeline"]]
    top.plot(times, [p["rate"] for p in summary["timeline"]], color="tab:blue")
    top.set_ylabel("deliveries/s", color="tab:blue")
    top.set_xlabel("seconds")
    cores = top.twinx()
    cores.plot(times, [p["cores"] for p in summary["timeline"]], color="tab:red")
    cores.set_ylabel("gateway cores", color="tab:red")

    if receipts.size:
        seconds = receipts // 1000
        buckets = range(int(seconds.max()) + 1)
        for q, colour in ((50, "tab:green"), (99, "tab:orange")):
            series = [
                np.percentile(latencies[seconds == s], q) if (seconds == s).any() else np.nan
                for s in buckets
            ]
            middle.plot(list(buckets), series, label=f"p{q}", color=colour)
        middle.set_ylabel("latency ms")
        middle.set_xlabel("second of receipt")
        middle.legend()
        ordered = np.sort(latencies)
        bottom.plot(ordered, np.linspace(0, 1, ordered.size))
        bottom.set_xscale("log")
        bottom.set_xlabel("latency ms (log)")
        bottom.set_ylabel("fraction of deliveries")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _title(summary: dict[str, Any]) -> str:
    latency, server = summary["latency_ms"], summary["server"]
    return (
        f"{summary['scenario']}: {summary['deliveries_per_second']:,}/s, "
        f"p99 {latency['p99']} ms, {server['cpu_us_per_delivery']} us CPU/delivery "
        f"({summary['topology']['nodes']} nodes)"
    )
