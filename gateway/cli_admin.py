"""The operator commands of ``chatgate``: ``orgs`` and ``api-keys``, run on the database directly
(with or without a gateway running on it).

Every command that opens the database first says which one on stderr (``chatgate: database
sqlite:////abs/path.db``), so ``--json`` output on stdout stays clean. A SQLite file that does
not exist is refused unless ``--create-database`` is given: run from the wrong directory, the
default relative URL would otherwise create an empty database there and hand out credentials
that the running gateway rejects.

Exit codes: 0 done; 1 the command could not be done (no such database file, no such org or API
key, the database failed); 2 the command line or a setting is wrong (argparse, in ``cli``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from gateway.core.auth import new_api_key
from gateway.handlers.accounts import Link, create_invitation
from gateway.handlers.agents import delete_agent, set_agent_status
from gateway.handlers.orgs import OrgCredentials, create_org
from gateway.settings import Settings
from gateway.stores import open_store, sqlite_path
from protocol import urls
from protocol.errors import GatewayError
from storage.base import Store
from storage.errors import StorageError
from storage.models import Agent, ApiKey, Org, Widget, now, to_wire

__all__ = [
    "admin_invitation",
    "link_base_url",
    "CommandFailed",
    "add_operator_commands",
    "announce_database",
    "database_label",
    "print_admin_link",
    "print_credentials",
    "run_operator_command",
]

Handler = Callable[[Store, argparse.Namespace], Awaitable[None]]


class CommandFailed(Exception):
    """The command could not be done (exit code 1); the message says why."""


def database_label(url: str) -> str:
    """``url`` as an operator should see it: a SQLite path made absolute, a password hidden."""
    path = sqlite_path(url)
    if path is not None:
        return "sqlite:///" + os.path.abspath(path)
    parts = urlsplit(url)
    userinfo, at, hosts = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))
    return url


def announce_database(settings: Settings, *, create: bool) -> None:
    """Say on stderr which database this command uses.

    Raises:
        CommandFailed: the SQLite file does not exist and ``create`` is false.
    """
    url = settings.database_url
    label = database_label(url)
    path = sqlite_path(url)
    new = path is not None and not os.path.exists(path)
    if path is not None and new and not create:
        relative = "" if os.path.isabs(path) else f" ({url} is relative to {os.getcwd()})"
        raise CommandFailed(
            f"no database at {os.path.abspath(path)}{relative}. Run this where the gateway "
            "runs, or pass the gateway's --database-url (CHATGATE_DATABASE_URL); "
            "--create-database makes a new, empty one"
        )
    note = " (new: creating it)" if new else ""
    print(f"chatgate: database {label}{note}", file=sys.stderr, flush=True)


def print_credentials(credentials: OrgCredentials, what: str) -> None:
    _print_fields(f"{what}. These credentials are shown once; keep them", credentials)


def link_base_url(settings: Settings) -> str:
    """Where printed links point: ``CHATGATE_PUBLIC_URL``, else the address ``serve`` binds
    (``localhost`` for a wildcard host)."""
    if settings.public_url:
        return settings.public_url
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


async def admin_invitation(store: Store, org_id: str, settings: Settings) -> Link:
    """The one-time admin sign-in link of a fresh gateway: an invitation of role ``admin``
    for ``CHATGATE_ADMIN_EMAIL``."""
    return await create_invitation(
        store,
        org_id,
        settings.admin_email,
        "admin",
        "Admin",
        ttl=timedelta(seconds=settings.invitation_ttl),
        base_url=link_base_url(settings),
    )


def print_admin_link(link: Link, email: str) -> None:
    print(
        f"chatgate: admin sign-in (one time, until {_when(link.expires_at)}): open\n"
        f"  {link.url}\n"
        f"  to set the password of {email}, then sign in at the dashboard (/app).",
        flush=True,
    )


def add_operator_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``orgs``, ``api-keys`` and ``agents`` commands, each with its handler as
    ``args.run``."""
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database-url",
        help="CHATGATE_DATABASE_URL (default sqlite:///./data/chatgate.db, relative to the "
        "current directory)",
    )
    database.add_argument(
        "--create-database",
        action="store_true",
        help="create the SQLite file if it does not exist (without this: refuse)",
    )
    database.add_argument("--json", action="store_true", help="print the result as JSON")
    org = argparse.ArgumentParser(add_help=False)
    org.add_argument("--org", dest="org_id", type=_uuid, required=True, help="the org's id")

    orgs = commands.add_parser("orgs", help="create, list and show orgs").add_subparsers(
        dest="orgs_command", required=True, metavar="{create,list,show}"
    )
    create = orgs.add_parser(
        "create", parents=[database], help="create an org with an API key, widget and agent"
    )
    create.add_argument("name")
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
    create.set_defaults(run=_orgs_create)
    orgs.add_parser("list", parents=[database], help="list every org").set_defaults(run=_orgs_list)
    show = orgs.add_parser(
        "show", parents=[database], help="an org's API keys (not their secrets), widgets, agents"
    )
    show.add_argument("org_id", metavar="ORG_ID", type=_uuid)
    show.set_defaults(run=_orgs_show)

    keys = commands.add_parser("api-keys", help="create, list and revoke API keys").add_subparsers(
        dest="api_keys_command", required=True, metavar="{create,list,revoke}"
    )
    create = keys.add_parser(
        "create", parents=[database, org], help="create an API key (printed once)"
    )
    create.add_argument("--name", default="cli", help="a label for the key (default: cli)")
    create.set_defaults(run=_api_keys_create)
    keys.add_parser(
        "list", parents=[database, org], help="an org's API keys, revoked ones included"
    ).set_defaults(run=_api_keys_list)
    revoke = keys.add_parser("revoke", parents=[database, org], help="revoke an API key")
    revoke.add_argument("key_id", metavar="KEY_ID", type=_uuid)
    revoke.set_defaults(run=_api_keys_revoke)

    agents = commands.add_parser(
        "agents", help="list, invite, disable, enable or delete agents"
    ).add_subparsers(
        dest="agents_command", required=True, metavar="{list,invite,disable,enable,delete}"
    )
    invite = agents.add_parser(
        "invite",
        parents=[database],
        help="print a one-time link that lets EMAIL set a password and sign in",
    )
    invite.add_argument("email", metavar="EMAIL")
    invite.add_argument("--role", choices=("admin", "agent"), default="agent")
    invite.add_argument("--name", help="the name the agent is suggested")
    invite.add_argument(
        "--org", dest="org_id", type=_uuid, help="the org's id (optional when there is one org)"
    )
    invite.set_defaults(run=_agents_invite)
    agents.add_parser(
        "list", parents=[database, org], help="an org's agents, with their status"
    ).set_defaults(run=_agents_list)
    for name, text in (
        ("disable", "refuse the agent's tokens and close its sockets, until enabled again"),
        ("enable", "let a disabled agent sign in again"),
        ("delete", "delete the agent for good (its messages stay)"),
    ):
        action = agents.add_parser(name, parents=[database, org], help=text)
        action.add_argument("agent_id", metavar="AGENT_ID", type=_uuid)
        action.set_defaults(run=_agents_change)


def run_operator_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run an ``orgs``, ``api-keys`` or ``agents`` command; failures print one line and
    return 1."""
    args.settings = settings
    try:
        announce_database(settings, create=args.create_database)
        asyncio.run(_with_store(settings, args.run, args))
    except CommandFailed as exc:
        print(f"chatgate: error: {exc}", file=sys.stderr)
        return 1
    return 0


async def _with_store(settings: Settings, handler: Handler, args: argparse.Namespace) -> None:
    label = database_label(settings.database_url)
    store = open_store(settings)
    try:
        try:
            await store.start()
        except (StorageError, OSError) as exc:
            raise CommandFailed(f"cannot open database {label}: {exc}") from None
        await handler(store, args)
    except StorageError as exc:
        raise CommandFailed(f"database {label} failed: {exc}") from None
    finally:
        await store.aclose()


# -- orgs -----------------------------------------------------------------------------------


async def _orgs_create(store: Store, args: argparse.Namespace) -> None:
    credentials = await create_org(
        store,
        args.name,
        allowed_origins=tuple(args.origin or ("*",)),
        monthly_message_limit=args.monthly_message_limit,
    )
    if args.json:
        _print_json(dataclasses.asdict(credentials))
    else:
        print_credentials(credentials, f"created org {args.name!r}")


async def _orgs_list(store: Store, args: argparse.Namespace) -> None:
    orgs = await store.list_orgs()
    if args.json:
        _print_json([to_wire(org) for org in orgs])
    elif not orgs:
        print("chatgate: no orgs yet (chatgate orgs create NAME)", file=sys.stderr)
    else:
        rows = [(o.id, o.name, _when(o.created_at), _limit(o.monthly_message_limit)) for o in orgs]
        print(_table(("ORG_ID", "NAME", "CREATED", "MONTHLY_MESSAGE_LIMIT"), rows))


async def _orgs_show(store: Store, args: argparse.Namespace) -> None:
    org = await _org(store, args.org_id)
    keys = await store.list_api_keys(org.id)
    widgets = await store.list_widgets(org.id)
    agents = await store.list_agents(org.id)
    if args.json:
        _print_json(
            {
                **to_wire(org),
                "api_keys": [to_wire(key) for key in keys],
                "widgets": [_widget(widget) for widget in widgets],
                "agents": [to_wire(agent) for agent in agents],
            }
        )
        return
    print(f"org {org.id} {org.name!r}, created {_when(org.created_at)}")
    print(f"monthly message limit: {_limit(org.monthly_message_limit)}")
    print(f"\nAPI keys ({len(keys)}; the secrets are not stored):")
    print(_table(_KEY_COLUMNS, [_key_row(key) for key in keys], indent=2))
    print(f"\nwidgets ({len(widgets)}):")
    rows = [(w.id, w.name, " ".join(w.allowed_origins)) for w in widgets]
    print(_table(("WIDGET_ID", "NAME", "ALLOWED_ORIGINS"), rows, indent=2))
    print(f"\nagents ({len(agents)}):")
    print(_table(_AGENT_COLUMNS, [_agent_row(agent) for agent in agents], indent=2))


# -- API keys -------------------------------------------------------------------------------


async def _api_keys_create(store: Store, args: argparse.Namespace) -> None:
    org = await _org(store, args.org_id)
    secret = new_api_key()
    key = ApiKey(str(uuid.uuid4()), org.id, args.name, secret.prefix, now())
    await store.create_api_key(key, secret.hash)
    if args.json:
        _print_json({**to_wire(key), "api_key": secret.secret})
    else:
        fields = {"key_id": key.id, "api_key": secret.secret}
        _print_fields(
            f"created API key {key.name!r} of org {org.name!r}. It is shown once; keep it", fields
        )


async def _api_keys_list(store: Store, args: argparse.Namespace) -> None:
    org = await _org(store, args.org_id)
    keys = await store.list_api_keys(org.id)
    if args.json:
        _print_json([to_wire(key) for key in keys])
    elif not keys:
        print(f"chatgate: org {org.name!r} has no API keys", file=sys.stderr)
    else:
        print(_table(_KEY_COLUMNS, [_key_row(key) for key in keys]))


async def _api_keys_revoke(store: Store, args: argparse.Namespace) -> None:
    org = await _org(store, args.org_id)
    at = now()
    key = await store.revoke_api_key(org.id, args.key_id, at)
    if key is None:
        raise CommandFailed(
            f"org {org.name!r} ({org.id}) has no API key {args.key_id} "
            f"(chatgate api-keys list --org {org.id})"
        )
    if args.json:
        _print_json(to_wire(key))
        return
    assert key.revoked_at is not None
    if key.revoked_at != at:
        when = _when(key.revoked_at)
        print(f"chatgate: API key {key.id} ({key.name!r}) was already revoked at {when}")
        return
    print(
        f"chatgate: revoked API key {key.id} ({key.name!r}, {key.prefix}...) of org {org.name!r}. "
        "Running gateways refuse it within CHATGATE_API_KEY_CACHE_SECONDS (5 s by default)."
    )


# -- agents ---------------------------------------------------------------------------------


async def _agents_list(store: Store, args: argparse.Namespace) -> None:
    org = await _org(store, args.org_id)
    agents = await store.list_agents(org.id)
    if args.json:
        _print_json([to_wire(agent) for agent in agents])
        return
    print(_table(_AGENT_COLUMNS, [_agent_row(agent) for agent in agents]))


async def _agents_invite(store: Store, args: argparse.Namespace) -> None:
    if args.org_id is not None:
        org = await _org(store, args.org_id)
    else:
        orgs = await store.list_orgs()
        if len(orgs) != 1:
            raise CommandFailed(
                f"this database has {len(orgs)} orgs: name one with --org (chatgate orgs list)"
            )
        org = orgs[0]
    settings: Settings = args.settings
    if "@" not in args.email.strip()[1:-1]:
        raise CommandFailed(f"{args.email!r} is not an email address")
    try:
        link = await create_invitation(
            store,
            org.id,
            args.email,
            args.role,
            args.name,
            ttl=timedelta(seconds=settings.invitation_ttl),
            base_url=link_base_url(settings),
        )
    except GatewayError as exc:
        raise CommandFailed(exc.message) from None
    if args.json:
        _print_json(
            {"invitation_url": link.url, "token": link.token, "expires_at": link.expires_at}
        )
        return
    print(
        f"chatgate: invited {args.email.strip().lower()} to org {org.name!r} as {args.role}. "
        f"One-time link (until {_when(link.expires_at)}):\n  {link.url}",
        flush=True,
    )


async def _agents_change(store: Store, args: argparse.Namespace) -> None:
    """``disable``, ``enable`` or ``delete``: running gateways refuse a disabled or deleted
    agent's tokens, and close its sockets, within their cache window."""
    org = await _org(store, args.org_id)
    if args.agents_command == "delete":
        done = await delete_agent(store, org.id, args.agent_id)
    else:
        status = "disabled" if args.agents_command == "disable" else "active"
        done = await set_agent_status(store, org.id, args.agent_id, status) is not None
    if not done:
        raise CommandFailed(
            f"org {org.name!r} ({org.id}) has no agent {args.agent_id} "
            f"(chatgate agents list --org {org.id})"
        )
    print(
        f"chatgate: agent {args.agent_id} {args.agents_command}d. Running gateways refuse its "
        "tokens and close its sockets within CHATGATE_API_KEY_CACHE_SECONDS (5 s by default)."
        if args.agents_command != "enable"
        else f"chatgate: agent {args.agent_id} enabled."
    )


# -- helpers --------------------------------------------------------------------------------

_KEY_COLUMNS = ("KEY_ID", "NAME", "PREFIX", "CREATED", "REVOKED")
_AGENT_COLUMNS = ("AGENT_ID", "NAME", "EMAIL", "ROLE", "STATUS")


def _agent_row(agent: Agent) -> tuple[str, str, str, str, str]:
    return (agent.id, agent.name, agent.email or "-", agent.role, agent.status)


async def _org(store: Store, org_id: str) -> Org:
    org = await store.get_org(org_id)
    if org is None:
        raise CommandFailed(f"no org {org_id} in this database (chatgate orgs list)")
    return org


def _key_row(key: ApiKey) -> tuple[str, ...]:
    revoked = "-" if key.revoked_at is None else _when(key.revoked_at)
    return (key.id, key.name, key.prefix + "...", _when(key.created_at), revoked)


def _widget(widget: Widget) -> dict[str, Any]:
    """A widget without its live-agent signing secret."""
    wire = to_wire(widget)
    wire.pop("live_agent_secret", None)
    return wire


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _limit(limit: int | None) -> str:
    return "none" if limit is None else str(limit)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, indent: int = 0) -> str:
    if not rows:
        return " " * indent + "(none)"
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        " " * indent
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    )


def _print_fields(what: str, fields: OrgCredentials | dict[str, str]) -> None:
    values = dataclasses.asdict(fields) if isinstance(fields, OrgCredentials) else fields
    lines = [f"  {name:<10} {value}" for name, value in values.items()]
    print(f"chatgate: {what}:", *lines, sep="\n", flush=True)


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value).decode() + "\n")


def _origin(text: str) -> str:
    """An allowed widget origin, by the rule the API applies (``protocol.urls.ORIGIN``)."""
    if re.match(urls.ORIGIN, text) is None:
        raise argparse.ArgumentTypeError(
            "an origin is *, http(s)://host[:port] or http(s)://*.domain[:port]"
        )
    return text


def _uuid(text: str) -> str:
    """An id argument: a UUID, in its canonical form."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an id (a UUID): {text!r}") from None


def _count(text: str) -> int:
    """A non-negative integer argument."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
