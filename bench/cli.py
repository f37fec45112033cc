"""``chatgate bench SCENARIO``: load gateways, check every delivery, report the figures.

    chatgate bench fanout --rooms 50 --members 20 --rate 40000 --nodes 2 --duration 20
    chatgate bench chat --pairs 200 --inboxes 10
    chatgate bench idle --connections 50000
    chatgate bench ingest --rate 6000
    chatgate bench storm --clients 10000
    chatgate bench sweep --rates 5000,10000,20000 -- --nodes 2   (fanout at several rates)
    chatgate bench store --concurrency 1,20   (the durable write alone)
    chatgate bench compare --database-url ...  (chatgate against its baselines, into the docs)
    chatgate bench fanout --server relay       (one scenario against one baseline)

By default the gateways are started here (``--nodes``, SQLite unless ``--database-url``,
a Redis of their own for several nodes unless ``--redis-url``). ``--url`` (repeatable) with
``--api-key`` loads running gateways instead. Each run prints a summary and writes
``NAME.json`` and ``NAME.png`` under ``--out``. The exit status is 1 if a delivery was lost,
duplicated or out of order.

``--server relay|socketio|post`` loads a baseline of ``bench/baselines`` instead of chatgate,
started here the same way (see ``chatgate bench compare``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench import report
from bench.baselines.topology import SERVERS, Baseline
from bench.nodes import Topology
from bench.runner import Outcome

__all__ = ["main"]

Scenario = Callable[[argparse.Namespace, Topology], tuple[Outcome, dict[str, Any]]]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sweep"]:
        from bench import sweep

        return sweep.main(argv[1:], fanout=main)
    if argv[:1] == ["store"]:
        from bench import store

        return store.main(argv[1:])
    if argv[:1] == ["compare"]:
        from bench import compare

        return compare.main(argv[1:], run=main)
    parser = _parser()
    args = parser.parse_args(argv)
    scenario: Scenario = args.scenario
    if args.nodes is None:
        args.nodes = args.default_nodes
    if args.server not in args.servers:
        parser.error(f"{args.command} runs against {', '.join(args.servers)}, not {args.server}")
    kind = Topology if args.server == "chatgate" else partial(Baseline, server=args.server)
    topology = kind(
        nodes=args.nodes,
        database_url=args.database_url,
        redis_url=args.redis_url,
        urls=args.url or [],
        api_key=args.api_key,
        env=dict(pair.split("=", 1) for pair in args.set or []),
        source=args.gateway_source,
        redis=args.own_redis or None,
    )
    with topology:
        outcome, summary_extra = scenario(args, topology)
        described = topology.describe()
    options = {
        k: v
        for k, v in vars(args).items()
        if k
        not in {"scenario", "default_nodes", "servers", "api_key", "out", "name", "quiet", "set"}
        and v is not None
    }
    summary = report.summarise(args.command, options, described, outcome)
    summary.update(summary_extra)
    report.print_summary(summary)
    json_path, png_path = report.write(summary, outcome, Path(args.out), args.name or args.command)
    print(f"  wrote        {json_path} and {png_path}")
    # A run that checked nothing failed, unless nothing could be watched (the bare POST).
    checked = summary["checks"]["expected"] or not summary.get("watched", True)
    return 0 if summary["checks"]["ok"] and checked else 1


def _parser() -> argparse.ArgumentParser:
    from bench.scenarios import chat, fanout, idle, ingest, storm

    parser = argparse.ArgumentParser(
        prog="chatgate bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("gateways")
    where.add_argument(
        "--server",
        default="chatgate",
        choices=("chatgate", *SERVERS),
        help="what to load: chatgate, or a baseline started here: "
        + "; ".join(f"{name}: {what}" for name, what in SERVERS.items()),
    )
    where.add_argument(
        "--nodes", type=int, help="gateway processes to start (default 2; idle and ingest 1)"
    )
    where.add_argument("--database-url", help="database of started nodes (default: SQLite)")
    where.add_argument("--redis-url", help="Redis of started nodes (default: one of our own)")
    where.add_argument(
        "--own-redis",
        action="store_true",
        help="start a Redis of our own even for one node (several nodes always get one)",
    )
    where.add_argument("--url", action="append", help="a running gateway (repeatable)")
    where.add_argument("--api-key", help="an API key of the org to load (with --url)")
    where.add_argument(
        "--set", action="append", metavar="CHATGATE_X=V", help="a setting of started nodes"
    )
    where.add_argument(
        "--gateway-source", metavar="DIR", help="start the gateways from another checkout (A/B)"
    )
    run = common.add_argument_group("run")
    run.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    run.add_argument("--workers", type=int, default=1, help="load-generating processes")
    run.add_argument("--out", default="bench/results", help="where JSON and PNG go")
    run.add_argument("--name", help="file name of the results (default: the scenario)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (fanout, chat, idle, ingest, storm):
        sub = commands.add_parser(
            module.NAME, parents=[common], help=module.HELP, description=module.__doc__
        )
        module.arguments(sub)
        # Not set_defaults(nodes=...): the option object is shared by every subcommand.
        sub.set_defaults(
            scenario=module.execute,
            default_nodes=getattr(module, "NODES", 2),
            servers=getattr(module, "SERVERS", ("chatgate",)),
        )
    return parser


if __name__ == "__main__":
    sys.exit(main())
