"""``chatgate bench sweep``: ``fanout`` at several offered rates, one chart of where it breaks.

    chatgate bench sweep --rates 5000,10000,20000,40000 -- --nodes 2 --database-url ...

Everything after ``--`` goes to each ``fanout`` run (fresh gateways per rate, so one rate's
backlog never spills into the next). Writes ``sweep.json`` and ``sweep.png`` (achieved vs
offered deliveries/s, p50/p99 latency, gateway CPU per delivery) under ``--out``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

__all__ = ["main"]


def main(argv: list[str], fanout: Callable[[list[str]], int]) -> int:
    """Run ``fanout`` (the ``chatgate bench fanout`` command) at each rate, then chart them."""
    parser = argparse.ArgumentParser(prog="chatgate bench sweep", description=__doc__)
    parser.add_argument("--rates", required=True, help="offered deliveries/s, comma separated")
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="-- then fanout's arguments")
    args = parser.parse_args(argv)
    rest = [a for a in args.rest if a != "--"]
    out = Path(args.out)
    points: list[dict[str, Any]] = []
    failed = False
    for rate in (float(r) for r in args.rates.split(",")):
        name = f"sweep-{rate:.0f}"
        code = fanout(["fanout", *rest, "--rate", str(rate), "--out", str(out), "--name", name])
        failed |= code != 0
        summary = orjson.loads((out / f"{name}.json").read_bytes())
        points.append(
            {
                "offered": rate,
                "achieved": summary["deliveries_per_second"],
                "latency_ms": summary["latency_ms"],
                "cpu_us_per_delivery": summary["server"]["cpu_us_per_delivery"],
                "gateway_cores": summary["server"]["cores"],
                "machine_saturated": summary["machine"]["saturated"],
                "client_bottleneck": summary["client"]["bottleneck"],
                "checks_ok": summary["checks"]["ok"],
            }
        )
    (out / "sweep.json").write_bytes(orjson.dumps(points, option=orjson.OPT_INDENT_2))
    _chart(points, out / "sweep.png", " ".join(rest))
    print(f"sweep: wrote {out / 'sweep.json'} and {out / 'sweep.png'}")
    return 1 if failed else 0


def _chart(points: list[dict[str, Any]], path: Path, setup: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    offered = [p["offered"] for p in points]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(8, 10), constrained_layout=True)
    fig.suptitle(f"fanout sweep ({setup or 'defaults'})", fontsize=9)
    top.plot(offered, offered, linestyle=":", color="grey", label="offered")
    top.plot(offered, [p["achieved"] for p in points], marker="o", label="delivered")
    top.set_ylabel("deliveries/s")
    top.legend()
    for key, colour in (("p50", "tab:green"), ("p99", "tab:orange")):
        middle.plot(
            offered, [p["latency_ms"][key] for p in points], marker="o", label=key, color=colour
        )
    middle.set_yscale("log")
    middle.set_ylabel("latency ms (log)")
    middle.legend()
    bottom.plot(offered, [p["cpu_us_per_delivery"] for p in points], marker="o", color="tab:red")
    bottom.set_ylabel("gateway CPU us per delivery")
    bottom.set_xlabel("offered deliveries/s")
    for axis in (top, middle, bottom):
        axis.grid(alpha=0.3)
    fig.savefig(path, dpi=90)
    plt.close(fig)
