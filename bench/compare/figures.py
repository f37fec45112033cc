"""From the summaries of a compare's runs to its figures: one point per run, the highest rate
each server held, and chatgate's ratios to the baselines. Pure functions over JSON data."""

from __future__ import annotations

from typing import Any

__all__ = [
    "HELD_SHARE",
    "P99_FANOUT_MS",
    "P99_INGEST_MS",
    "fanout_point",
    "held",
    "idle_point",
    "ingest_point",
    "ratio",
]

#: A rate is held when this share of it was delivered in the window...
HELD_SHARE = 0.95
#: ...with p99 at most this (ms), nothing lost, duplicated or reordered (issue 18's bar)...
P99_FANOUT_MS = 50.0
#: ...or, for REST acks, at most this (ms; issue 6's ingest target).
P99_INGEST_MS = 20.0

Point = dict[str, Any]


def _common(summary: dict[str, Any]) -> Point:
    checks, latency = summary["checks"], summary["latency_ms"]
    return {
        "ok": bool(checks["ok"]),
        "expected": checks["expected"],
        "received": checks["received"],
        "lost": checks["lost"],
        "duplicated": checks["duplicated"],
        "out_of_order": checks["out_of_order"],
        "sent": summary["sent"],
        "acked": summary["acked"],
        "errors": summary["errors"],
        "p50_ms": latency["p50"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
        "machine_saturated": summary["machine"]["saturated"],
        "client_bound": summary["client"]["bottleneck"],
        "client_why": summary["client"]["why"],
        "server_cores": summary["server"]["cores"],
        "redis_cores": summary["redis_cores"],
        "postgres_cores": summary["postgres_cores"],
    }


def fanout_point(offered: float, summary: dict[str, Any]) -> Point:
    return {
        "offered": offered,
        "delivered": summary["deliveries_per_second"],
        "cpu_us_per_delivery": summary["server"]["cpu_us_per_delivery"],
        **_common(summary),
    }


def ingest_point(offered: float, summary: dict[str, Any]) -> Point:
    return {
        "offered": offered,
        "delivered": summary["deliveries_per_second"],
        "cpu_us_per_send": summary["server"]["cpu_us_per_delivery"],
        "watched": summary.get("watched", True),
        **_common(summary),
    }


def idle_point(summary: dict[str, Any]) -> Point:
    return {
        "connections": summary["connections"],
        "connect_failures": summary["connect_failures"],
        "closed_during_hold": summary["closed_during_hold"],
        "rss_per_connection_kb": summary["rss_per_connection_kb"],
        "connect_cpu_us_per_connection": summary["connect_cpu_us_per_connection"],
        **_common(summary),
    }


def held(points: list[Point], p99_ms: float) -> float | None:
    """The highest offered rate whose run delivered it (``HELD_SHARE``) with p99 <= ``p99_ms``
    and every check passed; None when no rate was."""
    rates = [
        p["offered"]
        for p in points
        if not p.get("failed")
        and p["ok"]
        and p["delivered"] >= HELD_SHARE * p["offered"]
        and p["p99_ms"] <= p99_ms
    ]
    return max(rates, default=None)


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """``ours / theirs``, or None when either is missing or ``theirs`` is 0."""
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs
