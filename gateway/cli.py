"""The ``chatgate`` command: ``serve``, ``orgs create`` and ``bench`` (the load-test harness
in ``bench/``, which has its own arguments)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import re
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials, create_org
from gateway.realtime.broker.factory import create_broker
from gateway.runtime import tune_gc
from gateway.settings import Settings
from gateway.stores import open_store
from protocol import urls

__all__ = ["listen", "main", "worker_app"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and (command := _installed_command(argv[0])) is not None:
        return command(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            database_url=args.database_url,
            log_level=getattr(args, "log_level", None),
            workers=getattr(args, "workers", None),
            redis_url=getattr(args, "redis_url", None),
        )
        open_store(settings)  # only checks the URL: nothing is opened yet
        if args.command == "serve":
            create_broker(settings)  # likewise
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "serve":
        if settings.workers > 1 and not settings.redis_url:
            parser.error(
                f"--workers {settings.workers} needs a Redis broker: the in-process broker "
                "cannot carry events between processes (set CHATGATE_REDIS_URL or --redis-url)"
            )
        return _serve(settings)
    origins = tuple(args.origin or ("*",))
    return _orgs_create(settings, args.name, origins, args.monthly_message_limit, args.json)


def _installed_command(name: str) -> Callable[[list[str]], int] | None:
    """A subcommand that another installed package adds through the ``chatgate.commands``
    entry points (``chatgate bench`` comes from ``bench``, which builds on the gateway, so the
    gateway must not import it); it parses its own arguments."""
    for entry in entry_points(group="chatgate.commands", name=name):
        command: Callable[[list[str]], int] = entry.load()
        return command
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatgate", description="Realtime chat gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="interface to bind (CHATGATE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (CHATGATE_PORT, default 8000)")
    serve.add_argument("--database-url", help="CHATGATE_DATABASE_URL")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--workers", type=int, help="processes (CHATGATE_WORKERS, default 1)")
    serve.add_argument("--redis-url", help="CHATGATE_REDIS_URL (needed for --workers > 1)")

    commands.add_parser("bench", help="load-test gateways (chatgate bench --help)", add_help=False)
    orgs = commands.add_parser("orgs", help="manage orgs").add_subparsers(
        dest="orgs_command", required=True
    )
    create = orgs.add_parser("create", help="create an org with an API key, widget and agent")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print the credentials as JSON")
    create.add_argument(
        "--origin",
        action="append",
        type=_origin,
        help="allowed widget origin (repeatable; default *)",
    )
    create.add_argument(
        "--monthly-message-limit",
        type=_count,
        help="messages the org may store per calendar month (default: no limit)",
    )
    create.add_argument("--database-url", help="CHATGATE_DATABASE_URL")
    return parser


def _origin(text: str) -> str:
    """An allowed widget origin, by the rule the API applies (``protocol.urls.ORIGIN``)."""
    if re.match(urls.ORIGIN, text) is None:
        raise argparse.ArgumentTypeError(
            "an origin is *, http(s)://host[:port] or http(s)://*.domain[:port]"
        )
    return text


def _count(text: str) -> int:
    """A non-negative integer argument."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _serve(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    created = asyncio.run(_bootstrap(settings))
    if created is not None:
        _print_banner(created, "created the default org")
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ws": "websockets-sansio",
        "ws_max_size": settings.max_frame_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": settings.ws_ping_interval or None,
        "log_level": settings.log_level,
        "lifespan": "on",
    }
    if settings.workers == 1:
        app = create_app(settings)
        tune_gc()
        uvicorn.run(app, **options)
        return 0
    # Workers are fresh processes that build their app from the environment.
    os.environ.update(settings.to_env())
    config = uvicorn.Config(
        "gateway.cli:worker_app", factory=True, workers=settings.workers, **options
    )
    sock = listen(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    print(f"chatgate: serving on http://{host}:{port} with {settings.workers} workers", flush=True)
    Multiprocess(config, sockets=[sock]).run()
    return 0


def worker_app() -> Starlette:
    """The app of one of several worker processes (``serve --workers N``)."""
    app = create_app()
    tune_gc()
    return app


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket for worker processes to share.

    Bound here rather than by uvicorn: ``Config.bind_socket`` leaves ``proto`` at 0, accepted
    sockets inherit it, and asyncio then skips TCP_NODELAY, so every keep-alive response and
    small WebSocket frame waits for the peer's delayed ACK (~40 ms on Linux).
    https://github.com/Kludex/uvicorn/issues/3149
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


async def _bootstrap(settings: Settings) -> OrgCredentials | None:
    """Migrate, and on an empty database create the default org."""
    store = open_store(settings)
    await store.start()
    try:
        if not settings.bootstrap or await store.count_orgs() > 0:
            return None
        # Several processes may start on one empty database at once: one claim wins.
        claim = uuid.uuid4().hex
        if await store.get_or_create_setting("bootstrap", claim) != claim:
            return None
        return await create_org(store, "Default")
    finally:
        await store.aclose()


def _print_banner(credentials: OrgCredentials, what: str) -> None:
    lines = [f"  {name:<10} {value}" for name, value in dataclasses.asdict(credentials).items()]
    print(
        f"chatgate: {what}. These credentials are shown once; keep them:",
        *lines,
        sep="\n",
        flush=True,
    )


def _orgs_create(
    settings: Settings, name: str, origins: tuple[str, ...], limit: int | None, as_json: bool
) -> int:
    async def create() -> OrgCredentials:
        store = open_store(settings)
        await store.start()
        try:
            return await create_org(
                store, name, allowed_origins=origins, monthly_message_limit=limit
            )
        finally:
            await store.aclose()

    credentials = asyncio.run(create())
    if as_json:
        sys.stdout.write(orjson.dumps(dataclasses.asdict(credentials)).decode() + "\n")
    else:
        _print_banner(credentials, f"created org {name!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
