"""The ``chatgate`` command: ``serve``, the operator commands ``orgs``, ``api-keys`` and
``agents`` (``gateway/cli_admin.py``) and ``bench`` (the load-test harness in ``bench/``, which
has its own arguments).

Exit codes: 0 done; 1 the command could not be done (see ``cli_admin``); 2 the command line or a
setting is wrong, or ``serve`` refused to start (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
import uuid
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.supervisors import Multiprocess

from gateway.app import GatewayApp, create_app
from gateway.cli_admin import (
    add_operator_commands,
    admin_invitation,
    announce_database,
    print_admin_link,
    print_credentials,
    run_operator_command,
)
from gateway.handlers.accounts import Link
from gateway.handlers.orgs import OrgCredentials, create_org
from gateway.http.hosts import unguarded_warning
from gateway.http.server import GatewayHttpProtocol
from gateway.realtime.broker.factory import create_broker
from gateway.realtime.wire.protocol import SocketProtocol
from gateway.runtime import tune_gc
from gateway.settings import Settings
from gateway.stores import open_store
from storage.errors import StorageError

__all__ = ["listen", "main", "refuse", "worker_app"]


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
        return refuse(str(exc))
    if args.command == "serve":
        if settings.workers > 1 and not settings.redis_url:
            return refuse(
                f"--workers {settings.workers} needs a Redis broker: the in-process broker "
                "cannot carry events between processes (set CHATGATE_REDIS_URL or --redis-url)"
            )
        return _serve(settings)
    return run_operator_command(args, settings)


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
    serve.add_argument(
        "--database-url",
        help="CHATGATE_DATABASE_URL (default sqlite:///./data/chatgate.db, relative to the "
        "current directory; created if missing)",
    )
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--workers", type=int, help="processes (CHATGATE_WORKERS, default 1)")
    serve.add_argument("--redis-url", help="CHATGATE_REDIS_URL (needed for --workers > 1)")

    commands.add_parser("bench", help="load-test gateways (chatgate bench --help)", add_help=False)
    add_operator_commands(commands)
    return parser


def _serve(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if warning := unguarded_warning(settings):
        logging.getLogger(__name__).warning(warning)
    try:
        announce_database(settings, create=True)
        created = asyncio.run(_bootstrap(settings))
    except (StorageError, OSError) as exc:
        return refuse(f"cannot open database: {exc}")
    if created is not None:
        credentials, link = created
        print_credentials(credentials, "created the default org")
        print_admin_link(link, settings.admin_email)
    proxies = ",".join(str(network) for network in settings.trusted_proxy_networks)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "http": GatewayHttpProtocol,
        # chatgate's own socket layer (gateway/realtime/wire): frames built once per event.
        "ws": SocketProtocol,
        "ws_max_size": settings.max_frame_bytes,
        "ws_per_message_deflate": False,
        "ws_ping_interval": settings.ws_ping_interval or None,
        "ws_ping_timeout": settings.ws_ping_timeout,
        # uvicorn would believe X-Forwarded-* from 127.0.0.1 by default: only the proxies
        # chatgate trusts (CHATGATE_TRUSTED_PROXIES) may set the client's address and scheme.
        # The app reads the address again (core.clients), for servers other than uvicorn.
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "log_level": settings.log_level,
        # uvicorn formats each access line's arguments (the client, the quoted path) before
        # the logger drops it: above info, where nothing is logged, it is not asked to.
        "access_log": settings.log_level in ("debug", "info"),
        "lifespan": "on",
    }
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        return refuse(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
    if settings.workers == 1:
        return _serve_one(create_app(settings), sock, options)
    # Workers are fresh processes that build their app from the environment.
    os.environ.update(settings.to_env())
    config = uvicorn.Config(
        "gateway.cli:worker_app", factory=True, workers=settings.workers, **options
    )
    host, port = sock.getsockname()[:2]
    print(f"chatgate: serving on http://{host}:{port} with {settings.workers} workers", flush=True)
    Multiprocess(config, sockets=[sock]).run()
    return 0


def _serve_one(app: GatewayApp, sock: socket.socket, options: dict[str, Any]) -> int:
    """Serve ``app`` in this process; a start the app refused (``app.startup_refusal``) is one
    line on stderr and exit status 2, without uvicorn's traceback or its own error line."""
    logging.getLogger("uvicorn.error").addFilter(_StartupFailureFilter(app))
    server = uvicorn.Server(uvicorn.Config(app, **options))
    tune_gc()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it shut down for, once it is done (as uvicorn.run)
    except SystemExit:
        if app.startup_refusal is None:
            raise
        return refuse(app.startup_refusal)
    return 0


class _StartupFailureFilter(logging.Filter):
    """Drops uvicorn's "Application startup failed. Exiting." when the app said why itself."""

    def __init__(self, app: GatewayApp) -> None:
        super().__init__()
        self._app = app

    def filter(self, record: logging.LogRecord) -> bool:
        return self._app.startup_refusal is None or record.levelno < logging.ERROR


def refuse(reason: str) -> int:
    """A refused start: one line on stderr, exit status 2 (never a traceback)."""
    print(f"chatgate: error: {reason}", file=sys.stderr)
    return 2


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


async def _bootstrap(settings: Settings) -> tuple[OrgCredentials, Link] | None:
    """Migrate, and on an empty database create the default org and invite its admin
    (``CHATGATE_ADMIN_EMAIL``)."""
    store = open_store(settings)
    await store.start()
    try:
        if not settings.bootstrap or await store.count_orgs() > 0:
            return None
        # Several processes may start on one empty database at once: one claim wins.
        claim = uuid.uuid4().hex
        if await store.get_or_create_setting("bootstrap", claim) != claim:
            return None
        credentials = await create_org(store, "Default")
        return credentials, await admin_invitation(store, credentials.org_id, settings)
    finally:
        await store.aclose()


if __name__ == "__main__":
    raise SystemExit(main())
