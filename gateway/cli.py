"""The ``chatgate`` command: ``serve`` and ``orgs create``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence

import orjson
import uvicorn

from gateway.admin import OrgCredentials, create_org
from gateway.app import create_app
from gateway.settings import Settings
from gateway.stores import open_store

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(
            host=getattr(args, "host", None),
            port=getattr(args, "port", None),
            database_url=args.database_url,
            log_level=getattr(args, "log_level", None),
        )
        open_store(settings)  # only checks the URL: nothing is opened yet
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "serve":
        return _serve(settings)
    return _orgs_create(settings, args.name, tuple(args.origin or ("*",)), args.json)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatgate", description="Realtime chat gateway")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="interface to bind (CHATGATE_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (CHATGATE_PORT, default 8000)")
    serve.add_argument("--database-url", help="CHATGATE_DATABASE_URL")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    orgs = commands.add_parser("orgs", help="manage orgs").add_subparsers(
        dest="orgs_command", required=True
    )
    create = orgs.add_parser("create", help="create an org with an API key, widget and agent")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print the credentials as JSON")
    create.add_argument(
        "--origin", action="append", help="allowed widget origin (repeatable; default *)"
    )
    create.add_argument("--database-url", help="CHATGATE_DATABASE_URL")
    return parser


def _serve(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    created = asyncio.run(_bootstrap(settings))
    if created is not None:
        _print_banner(created, "created the default org")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        ws_per_message_deflate=False,
        ws_ping_interval=settings.ws_ping_interval or None,
        log_level=settings.log_level,
        lifespan="on",
    )
    return 0


async def _bootstrap(settings: Settings) -> OrgCredentials | None:
    """Migrate, and on an empty database create the default org."""
    store = open_store(settings)
    await store.start()
    try:
        if settings.bootstrap and await store.count_orgs() == 0:
            return await create_org(store, "Default")
        return None
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


def _orgs_create(settings: Settings, name: str, origins: tuple[str, ...], as_json: bool) -> int:
    async def create() -> OrgCredentials:
        store = open_store(settings)
        await store.start()
        try:
            return await create_org(store, name, allowed_origins=origins)
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
