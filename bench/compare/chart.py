"""The compare's chart: CPU per delivery and p99 against the offered rate for each socket
server, idle memory per connection, and REST sends acked against offered."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.compare.figures import P99_FANOUT_MS, Point

__all__ = ["draw"]


def draw(data: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    fig, ((cpu, latency), (memory, rest)) = plt.subplots(
        2, 2, figsize=(11, 8), constrained_layout=True
    )
    fig.suptitle(f"chatgate against its baselines, one run ({data['when']})", fontsize=10)
    for server, points in data["fanout"].items():
        done = [p for p in points if not p.get("failed")]
        label = data["short"][server]
        offered = [p["offered"] for p in done]
        cpu.plot(offered, [p["cpu_us_per_delivery"] for p in done], marker="o", label=label)
        (line,) = latency.plot(offered, [p["p99_ms"] for p in done], marker="o", label=label)
        latency.plot(
            offered, [p["p50_ms"] for p in done], marker=".", linestyle=":", color=line.get_color()
        )
    cpu.set_title("fanout: server CPU per delivery", fontsize=9)
    cpu.set_ylabel("µs")
    cpu.set_xlabel("offered deliveries/s")
    latency.axhline(P99_FANOUT_MS, color="grey", linestyle="--", linewidth=0.8)
    latency.set_title("fanout: p99 (solid), p50 (dotted)", fontsize=9)
    latency.set_yscale("log")
    latency.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    latency.yaxis.set_minor_formatter(ticker.NullFormatter())
    latency.set_ylabel("ms (log)")
    latency.set_xlabel("offered deliveries/s")

    idle: dict[str, Point] = {s: p for s, p in data["idle"].items() if not p.get("failed")}
    names = [data["short"][s] for s in idle]
    memory.bar(names, [p["rss_per_connection_kb"] for p in idle.values()], color="tab:purple")
    memory.set_title(f"idle: RSS per connection ({data['options']['connections']:,})", fontsize=9)
    memory.set_ylabel("KB")
    memory.tick_params(axis="x", labelsize=7)

    most = 0.0
    for server, points in data["ingest"].items():
        done = [p for p in points if not p.get("failed")]
        offered = [p["offered"] for p in done]
        most = max([most, *offered])
        rest.plot(
            offered, [p["delivered"] for p in done], marker="o", label=data["rest_servers"][server]
        )
    if most:
        rest.plot([0, most], [0, most], linestyle=":", color="grey", label="offered")
    rest.set_title("ingest: REST sends acked per second, one process", fontsize=9)
    rest.set_xlabel("offered sends/s")
    rest.set_ylabel("acked/s")
    for axis in (cpu, latency, rest):
        axis.grid(alpha=0.3)
        if axis.has_data():
            axis.legend(fontsize=7)
    fig.savefig(path, dpi=90)
    plt.close(fig)
