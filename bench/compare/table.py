"""The compare's figures as Markdown: the socket table (fanout at each rate, the highest rate
held, idle memory), the REST table (ingest), and notes on runs that were not clean."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.compare.figures import P99_FANOUT_MS, P99_INGEST_MS, Point, held, ratio

__all__ = ["render", "with_chart"]

Row = list[str]
#: A server's figure for a ratio (None: not measured).
Value = Callable[[str], float | None]
MISSING = "–"


def render(data: dict[str, Any]) -> str:
    """The whole Markdown block (without the chart)."""
    lines = [_intro(data), ""]
    if data["fanout"] or data["idle"]:
        lines += [*_socket_table(data), ""]
    if data["ingest"]:
        lines += [*_rest_table(data), ""]
    lines += _notes(data)
    return "\n".join(lines).rstrip() + "\n"


def with_chart(markdown: str, image: Path) -> str:
    return f"{markdown}\n![chatgate against its baselines, measured in one run]({image})\n"


def _intro(data: dict[str, Any]) -> str:
    o, machine = data["options"], data["machine"]
    database = "PostgreSQL" if o["database_url"] else "SQLite"
    runtimes = f"Python {machine['python']}" + (
        f", Node {machine['node']}" if machine["node"] else ""
    )
    text = (
        f"Measured {data['when']} by `{data['command']}` on {machine['cores']} cores "
        f"({runtimes}). Every server is loaded by the same generator in the same run. "
    )
    if data["fanout"]:
        text += (
            f"**fanout**: {o['rooms']} rooms × {o['members']} members over {o['nodes']} nodes, "
            f"each server with a Redis of its own between its nodes, {o['size']}-character "
            f"messages, {o['duration']:g} s per rate on fresh servers; chatgate on {database} "
            "with its org rate limit off. Server CPU is the server processes' own CPU time over "
            "the deliveries in the window (Redis and PostgreSQL apart); latency is send to "
            "receipt; every delivery is checked. "
        )
    if data["idle"]:
        text += (
            f"**idle**: {o['connections']:,} sockets that said hello and subscribed, one "
            "server process; RSS growth over the sockets connected. "
        )
    if data["ingest"]:
        text += (
            "**ingest**: paced REST sends to one process (`POST "
            "/v1/conversations/{id}/messages`), at most 256 in flight per load worker. "
        )
    return text.rstrip()


def _socket_table(data: dict[str, Any]) -> list[str]:
    servers: dict[str, str] = data["servers"]
    fanout: dict[str, list[Point]] = data["fanout"]
    idle: dict[str, Point] = data["idle"]
    baselines = [s for s in ("relay", "socketio") if s in servers and "chatgate" in servers]
    short: dict[str, str] = data["short"]
    header = ["fanout, idle", *servers.values(), *(f"chatgate ÷ {short[b]}" for b in baselines)]
    rows: list[Row] = []

    def row(label: str, show: Callable[[str], str], value: Value | None = None) -> None:
        """``show(server)`` in each server's column; then chatgate's ``value`` over each
        baseline's."""
        cells = ["not run" if s in data["not_run"] else show(s) for s in servers]
        ratios = [
            _times(ratio(value("chatgate"), value(b))) if value else MISSING for b in baselines
        ]
        rows.append([label, *cells, *ratios])

    for index, rate in enumerate(_rates_run(fanout)):
        at = _picker(fanout, index)
        label = _rate(rate)
        row(
            f"{label}: server CPU per delivery",
            _shows(at, lambda p: _us(p["cpu_us_per_delivery"])),
            _values(at, "cpu_us_per_delivery"),
        )
        row(
            f"{label}: latency p50 / p99",
            _shows(at, lambda p: f"{_ms(p['p50_ms'])} / {_ms(p['p99_ms'])} ms"),
            _values(at, "p99_ms"),
        )
        row(
            f"{label}: delivered, lost",
            _shows(at, lambda p: f"{p['delivered']:,}/s, {p['lost']:,} lost"),
            _values(at, "delivered"),
        )
    if fanout:
        row(
            f"highest rate held with p99 ≤ {P99_FANOUT_MS:g} ms, nothing lost",
            lambda s: _held(fanout.get(s), P99_FANOUT_MS),
            lambda s: held(fanout[s], P99_FANOUT_MS) if s in fanout else None,
        )
    if idle:
        row(
            "idle: RSS per connection",
            lambda s: _show(idle.get(s), lambda p: f"{p['rss_per_connection_kb']:.1f} KB"),
            lambda s: _number(idle.get(s), "rss_per_connection_kb"),
        )
        row("idle: sockets held in one process", lambda s: _show(idle.get(s), _held_sockets))
    return _markdown(header, rows)


def _rest_table(data: dict[str, Any]) -> list[str]:
    servers: dict[str, str] = data["rest_servers"]
    ingest: dict[str, list[Point]] = data["ingest"]
    others = [s for s in ("chatgate-sqlite", "chatgate-postgres") if s in servers]
    header = ["ingest, one process", *servers.values()]
    header += [f"{servers[s]} ÷ bare POST" for s in others]
    rows: list[Row] = []

    def add(label: str, value: Value, fmt: Callable[[float], str], empty: str = MISSING) -> None:
        """``value(server)`` formatted in each server's column (``empty`` when a server that
        ran has none), then each chatgate store's over the bare endpoint's."""
        values = {s: value(s) for s in servers}
        cells = [
            fmt(v) if (v := values[s]) is not None else empty if s in ingest else _not_run(s, data)
            for s in servers
        ]
        ratios = [_times(ratio(values[s], values.get("post"))) for s in others]
        rows.append([label, *cells, *ratios])

    def over(figure: Callable[[list[Point]], float | None]) -> Value:
        return lambda server: figure(ingest[server]) if server in ingest else None

    add("most sends/s acked", over(_most), lambda v: f"{v:,.0f}/s")
    add("ack p99 at that rate", over(lambda ps: _at_most(ps, "p99_ms")), _ms_unit)
    add(
        f"highest rate held with ack p99 ≤ {P99_INGEST_MS:g} ms",
        over(lambda ps: held(ps, P99_INGEST_MS)),
        _rate,
        "none of " + ", ".join(_rate(r) for r in _rates_run(ingest)),
    )
    for index, rate in enumerate(_rates_run(ingest)):
        at = _picker(ingest, index)
        add(f"{_rate(rate)} offered: acked/s", _values(at, "delivered"), lambda v: f"{v:,.0f}/s")
        add(f"{_rate(rate)} offered: ack p99", _values(at, "p99_ms"), _ms_unit)
    return _markdown(header, rows)


def _notes(data: dict[str, Any]) -> list[str]:
    names = {**data["servers"], **data["rest_servers"]}
    notes = [f"- {names.get(s, s)}: not run ({why})." for s, why in data["not_run"].items()]
    for part in ("fanout", "ingest"):
        for server, points in data[part].items():
            for point in points:
                if point.get("failed"):
                    continue
                flags = []
                if point["machine_saturated"]:
                    flags.append("every core of the machine was busy")
                if point["client_bound"]:
                    flags.append(f"the load client was the limit ({point['client_why']})")
                if flags:
                    notes.append(
                        f"- {part} {_rate(point['offered'])}, {names[server]}: {'; '.join(flags)}."
                    )
    notes += [f"- FAILED: {failure}" for failure in data["failures"]]
    return notes


# -- cells ----------------------------------------------------------------------------------


def _picker(part: dict[str, list[Point]], index: int) -> Callable[[str], Point | None]:
    """A server's point at the ``index``th rate of ``part``."""

    def at(server: str) -> Point | None:
        points = part.get(server) or []
        return points[index] if index < len(points) else None

    return at


def _shows(at: Callable[[str], Point | None], fmt: Callable[[Point], str]) -> Callable[[str], str]:
    return lambda server: _show(at(server), fmt)


def _values(at: Callable[[str], Point | None], key: str) -> Value:
    return lambda server: _number(at(server), key)


def _show(point: Point | None, fmt: Callable[[Point], str]) -> str:
    if point is None:
        return MISSING
    return "failed" if point.get("failed") else fmt(point)


def _not_run(server: str, data: dict[str, Any]) -> str:
    """The cell of a server without a figure: not run at all, or no figure."""
    return "not run" if server in data["not_run"] else MISSING


def _held(points: list[Point] | None, p99: float) -> str:
    if not points:
        return MISSING
    rate = held(points, p99)
    if rate is None:
        return "none of " + ", ".join(_rate(p["offered"]) for p in points)
    return _rate(rate)


def _held_sockets(point: Point) -> str:
    lost = point["connect_failures"] + point["closed_during_hold"]
    return f"{point['connections']:,}" + (f" ({lost:,} failed or closed)" if lost else "")


def _number(point: Point | None, key: str) -> float | None:
    if point is None or point.get("failed"):
        return None
    value = point.get(key)
    return float(value) if value is not None else None


def _most(points: list[Point]) -> float | None:
    values = [p["delivered"] for p in points if not p.get("failed")]
    return float(max(values)) if values else None


def _at_most(points: list[Point], key: str) -> float | None:
    done = [p for p in points if not p.get("failed")]
    if not done:
        return None
    return float(max(done, key=lambda p: p["delivered"])[key])


def _rates_run(part: dict[str, list[Point]]) -> list[float]:
    longest = max(part.values(), key=len, default=[])
    return [p["offered"] for p in longest]


# -- formats --------------------------------------------------------------------------------


def _rate(rate: float) -> str:
    if rate >= 1000 and rate % 1000 == 0:
        return f"{rate / 1000:g}k/s"
    return f"{rate:,.0f}/s"


def _us(value: float | None) -> str:
    if value is None:
        return MISSING
    return f"{value:.1f} µs" if value < 10 else f"{value:,.0f} µs"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def _ms_unit(value: float) -> str:
    return f"{_ms(value)} ms"


def _times(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2g}×"


def _markdown(header: Row, rows: list[Row]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
