"""``chatgate bench compare``: chatgate against its baselines, side by side in one run on this
machine, with the same load generator for every server, into ``docs/performance.md``.

    chatgate bench compare --database-url postgresql://postgres@127.0.0.1:5432/chatgate_bench

- **fanout** against the bare relay, Node socket.io (when ``node`` exists; its packages are
  installed by ``npm ci`` on demand) and chatgate: ``--rooms`` x ``--members`` over ``--nodes``
  nodes with a Redis of their own between them, ``--size``-character messages, one run per
  ``--rates`` on fresh servers. chatgate runs on ``--database-url`` (else SQLite) with its org
  rate limit off. Server CPU per delivery, p50/p99, delivered, lost; the highest rate held with
  p99 <= 50 ms.
- **idle**: ``--connections`` sockets on one process of each: RSS per connection.
- **ingest**: paced REST sends at each ``--ingest-rates`` against the bare Starlette POST
  endpoint and one chatgate process on SQLite and on PostgreSQL: the most sends/s acked, ack
  p99, the highest rate held with ack p99 <= 20 ms.

Writes every run's JSON and PNG, ``compare.json``, ``compare.md`` and ``compare.png`` under
``--out``, and the table with the chart into ``--docs`` between ``<!-- compare:begin -->`` and
``<!-- compare:end -->`` (the chart as ``performance/compare.png`` beside the page). The exit
status is 1 when a run failed or lost, duplicated or reordered a delivery.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.baselines.node import install_socketio, socketio_missing
from bench.compare import chart, docs, table
from bench.compare.figures import Point, fanout_point, idle_point, ingest_point

__all__ = ["REST_SERVERS", "SHORT", "SOCKET_SERVERS", "main"]

#: The columns of the fanout and idle comparison, baselines first.
SOCKET_SERVERS = {
    "relay": "bare websockets + Redis relay",
    "socketio": "Node socket.io + Redis adapter",
    "chatgate": "chatgate",
}
#: Their names in ratio columns and the chart.
SHORT = {"relay": "relay", "socketio": "socket.io", "chatgate": "chatgate"}
#: The columns of the ingest comparison.
REST_SERVERS = {
    "post": "bare Starlette POST",
    "chatgate-sqlite": "chatgate, SQLite",
    "chatgate-postgres": "chatgate, PostgreSQL",
}
#: What chatgate's started nodes get on top of the harness's defaults (which turn the org's
#: and the visitors' budgets off already): written out, so the recorded command says it.
CHATGATE_SETTINGS = ["--set", "CHATGATE_ORG_REQUESTS_PER_MINUTE=0"]

Run = Callable[[list[str]], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatgate bench compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help="PostgreSQL of chatgate (default: SQLite)")
    parser.add_argument(
        "--servers",
        default="relay,socketio,chatgate",
        help="socket servers to compare (default relay,socketio,chatgate)",
    )
    parser.add_argument(
        "--parts", default="fanout,idle,ingest", help="what to run (default fanout,idle,ingest)"
    )
    fanout = parser.add_argument_group("fanout")
    fanout.add_argument("--rates", default="10000,20000,40000", help="offered deliveries/s")
    fanout.add_argument("--rooms", type=int, default=50)
    fanout.add_argument("--members", type=int, default=20)
    fanout.add_argument("--nodes", type=int, default=2)
    fanout.add_argument("--size", type=int, default=100, help="message length")
    fanout.add_argument("--duration", type=float, default=10.0, help="measured seconds per run")
    fanout.add_argument("--workers", type=int, default=1, help="load-generating processes")
    idle = parser.add_argument_group("idle")
    idle.add_argument("--connections", type=int, default=19000, help="idle sockets, one process")
    idle.add_argument("--idle-duration", type=float, default=5.0, help="seconds held")
    idle.add_argument("--idle-workers", type=int, help="default: as few as the file limit allows")
    ingest = parser.add_argument_group("ingest")
    ingest.add_argument("--ingest-rates", default="1000,2000,4000,8000", help="offered sends/s")
    ingest.add_argument("--ingest-conversations", type=int, default=50)
    ingest.add_argument("--ingest-duration", type=float, default=10.0)
    ingest.add_argument("--ingest-workers", type=int, default=2)
    where = parser.add_argument_group("output")
    where.add_argument("--out", default="bench/results/compare", help="every run's JSON and PNG")
    where.add_argument(
        "--docs", default="docs/performance.md", help="the page whose compare markers get the table"
    )
    where.add_argument("--no-docs", action="store_true", help="leave the docs alone")
    where.add_argument(
        "--no-install", action="store_true", help="never npm ci the socket.io baseline"
    )
    where.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str], run: Run) -> int:
    """Run every part against every server with ``run`` (``chatgate bench``'s main), then
    write ``compare.json``, ``compare.png`` and the docs table."""
    parser = _parser()
    args = parser.parse_args(argv)
    servers = [s for s in args.servers.split(",") if s]
    parts = [p for p in args.parts.split(",") if p]
    unknown = [s for s in servers if s not in SOCKET_SERVERS]
    unknown += [p for p in parts if p not in {"fanout", "idle", "ingest"}]
    if unknown:
        parser.error(f"unknown server or part: {', '.join(unknown)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    not_run: dict[str, str] = {}
    if "socketio" in servers and {"fanout", "idle"} & set(parts):
        reason = socketio_missing() if args.no_install else install_socketio()
        if reason:
            not_run["socketio"] = reason
    runs = _Runs(run, out, args.quiet)
    data: dict[str, Any] = {
        "command": "chatgate bench compare " + " ".join(argv),
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "options": vars(args),
        "servers": {s: SOCKET_SERVERS[s] for s in servers},
        "short": {s: SHORT[s] for s in servers},
        "rest_servers": {},
        "not_run": not_run,
        "fanout": {},
        "idle": {},
        "ingest": {},
    }
    running = [s for s in servers if s not in not_run]
    if "fanout" in parts:
        data["fanout"] = {s: _fanout(runs, args, s) for s in running}
    if "idle" in parts:
        data["idle"] = {s: _idle(runs, args, s) for s in running}
    if "ingest" in parts:
        rest = ["post", "chatgate-sqlite", "chatgate-postgres"]
        if not args.database_url:
            not_run["chatgate-postgres"] = "no --database-url"
        data["rest_servers"] = {s: REST_SERVERS[s] for s in rest}
        data["ingest"] = {s: _ingest(runs, args, s) for s in rest if s not in not_run}
    data["failures"] = runs.failures
    json_path = out / "compare.json"
    json_path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    chart_path = out / "compare.png"
    chart.draw(data, chart_path)
    markdown = table.render(data)
    (out / "compare.md").write_text(markdown)
    print(markdown)
    print(f"compare: wrote {json_path}, {chart_path} and {out / 'compare.md'}")
    if not args.no_docs:
        page = Path(args.docs)
        image = page.parent / "performance" / "compare.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chart_path, image)
        docs.write_between_markers(page, table.with_chart(markdown, image.relative_to(page.parent)))
        print(f"compare: wrote the table into {page} and the chart to {image}")
    for failure in runs.failures:
        print(f"compare: FAILED {failure}")
    return 1 if runs.failures else 0


class _Runs:
    """Runs ``chatgate bench`` commands, each writing ``NAME.json`` under ``out``, and
    keeps what failed (a server that did not start, a check that did not pass)."""

    def __init__(self, run: Run, out: Path, quiet: bool) -> None:
        self.run = run
        self.out = out
        self.quiet = quiet
        self.failures: list[str] = []

    def summary(self, argv: list[str], name: str) -> dict[str, Any] | None:
        path = self.out / f"{name}.json"
        path.unlink(missing_ok=True)
        command = [*argv, "--out", str(self.out), "--name", name, *(["--quiet"] * self.quiet)]
        print(f"compare: chatgate bench {' '.join(command)}", flush=True)
        began = time.monotonic()
        try:
            code = self.run(command)
        except (Exception, SystemExit) as exc:  # a run that broke is reported, the rest go on
            self.failures.append(f"{name}: {type(exc).__name__}: {exc}")
            return None
        finally:
            print(f"compare: {name} took {time.monotonic() - began:.1f} s", flush=True)
        if not path.exists():
            self.failures.append(f"{name}: wrote no summary (exit status {code})")
            return None
        summary: dict[str, Any] = orjson.loads(path.read_bytes())
        if code != 0:
            checks = summary["checks"]
            self.failures.append(
                f"{name}: checks failed (lost {checks['lost']}, duplicated "
                f"{checks['duplicated']}, out of order {checks['out_of_order']}, "
                f"{checks['received']} of {checks['expected']} received)"
            )
        summary["file"] = path.name
        return summary


def _chatgate(args: argparse.Namespace, *, database: bool = True) -> list[str]:
    url = ["--database-url", args.database_url] if database and args.database_url else []
    return [*url, *CHATGATE_SETTINGS]


def _fanout(runs: _Runs, args: argparse.Namespace, server: str) -> list[Point]:
    points = []
    for rate in _rates(args.rates):
        argv = [
            "fanout",
            *("--server", server, "--nodes", str(args.nodes), "--rate", f"{rate:g}"),
            *("--rooms", str(args.rooms), "--members", str(args.members)),
            *("--size", str(args.size), "--duration", f"{args.duration:g}"),
            *("--workers", str(args.workers)),
            *(_chatgate(args) if server == "chatgate" else []),
        ]
        summary = runs.summary(argv, f"compare-fanout-{server}-{rate:.0f}")
        points.append(_failed(rate) if summary is None else fanout_point(rate, summary))
    return points


def _idle(runs: _Runs, args: argparse.Namespace, server: str) -> Point:
    workers = args.idle_workers or _idle_workers(args.connections)
    argv = [
        "idle",
        *("--server", server, "--nodes", "1", "--connections", str(args.connections)),
        *("--workers", str(workers), "--duration", f"{args.idle_duration:g}"),
        *(["--own-redis", *_chatgate(args)] if server == "chatgate" else []),
    ]
    summary = runs.summary(argv, f"compare-idle-{server}")
    return {"failed": True} if summary is None else idle_point(summary)


def _ingest(runs: _Runs, args: argparse.Namespace, server: str) -> list[Point]:
    points = []
    for rate in _rates(args.ingest_rates):
        argv = [
            "ingest",
            *("--nodes", "1", "--rate", f"{rate:g}"),
            *("--conversations", str(args.ingest_conversations)),
            *("--duration", f"{args.ingest_duration:g}", "--workers", str(args.ingest_workers)),
        ]
        if server == "post":
            argv += ["--server", "post"]
        else:
            argv += _chatgate(args, database=server == "chatgate-postgres")
        summary = runs.summary(argv, f"compare-ingest-{server}-{rate:.0f}")
        points.append(_failed(rate) if summary is None else ingest_point(rate, summary))
    return points


def _failed(rate: float) -> Point:
    return {"offered": rate, "failed": True}


def _rates(text: str) -> list[float]:
    return [float(r) for r in text.split(",") if r]


def _idle_workers(connections: int) -> int:
    """As few workers as hold ``connections`` within the open-file limit (idle's own rule)."""
    from bench.scenarios.idle import FD_RESERVE

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        return 1
    return max(1, math.ceil(connections / (hard - FD_RESERVE)))


def _machine() -> dict[str, Any]:
    node = None
    if shutil.which("node"):
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
        node = done.stdout.strip() or None
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "node": node,
        "platform": platform.platform(),
    }
