"""Configuration: defaults, overridden by ``CHATGATE_*`` environment variables, then flags.

Every field can be set as ``CHATGATE_<FIELD>`` (upper case), e.g. ``CHATGATE_PORT=9000``.
See docs/operations.md for the table.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any, Literal, Self

import msgspec
from msgspec import Meta

__all__ = ["Settings"]

PREFIX = "CHATGATE_"
Positive = Annotated[float, Meta(gt=0)]
#: Seconds, comma separated: ``0,5,300``.
Schedule = Annotated[str, Meta(pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$")]
_HOST = r"(\*|(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\])"
#: Host names, comma separated: ``chat.example.com,*.example.org``.
AllowedHosts = Annotated[str, Meta(pattern=rf"^\s*({_HOST}(\s*,\s*{_HOST})*)?\s*$")]


@dataclass(frozen=True, slots=True)
class Settings:
    """Gateway settings. Construct with keywords, or ``Settings.from_env()``."""

    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8000
    #: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``
    database_url: str = "sqlite:///./data/chatgate.db"
    #: Key that signs socket tokens (at least 32 characters). Empty: generated once and kept
    #: in the database, shared by every process on that database.
    secret_key: Annotated[str, Meta(pattern=r"^(|[\s\S]{32,})$")] = ""
    #: Worker processes for ``serve`` (more than one needs ``redis_url``).
    workers: Annotated[int, Meta(ge=1, le=64)] = 1
    #: Redis for the broker: ``redis://a:6379,redis://b:6379`` (standalone nodes) or
    #: ``redis+cluster://a:7000,b:7001`` (a Redis Cluster). Empty: the in-process broker.
    redis_url: str = ""
    #: Seconds between canary messages on each Redis shard.
    broker_canary_interval: Positive = 0.5
    #: Seconds without a canary after which a Redis shard is unhealthy and reconnected.
    broker_canary_timeout: Positive = 2.0
    #: Largest number of PostgreSQL connections per process.
    database_pool_size: Annotated[int, Meta(ge=1)] = 10
    #: Create a default org (and print its credentials) when ``serve`` finds none.
    bootstrap: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"

    #: The gateway's public base URL (``https://chat.example.com``): stored file URLs are
    #: ``{public_url}/v1/files/{sha256}``. Empty: they are gateway-relative
    #: (``/v1/files/{sha256}``); never built from a request's ``Host``.
    public_url: Annotated[str, Meta(pattern=r"^(|https?://[^\s/]+)$")] = ""
    #: Host names this gateway answers, comma separated; ``*.example.com`` matches any
    #: subdomain (not ``example.com`` itself), ports are ignored. Any other ``Host`` gets 400,
    #: on HTTP and on ``/ws`` (``/healthz`` and ``/readyz`` answer any). Empty or ``*``: any.
    allowed_hosts: AllowedHosts = ""
    #: Seconds a client has to send a request's line and headers (from the connection's
    #: start, or from the first byte of a later request on it); then 408 and closed.
    http_header_timeout: Positive = 10.0
    #: Seconds a request body may stall between two pieces before the connection is closed
    #: (408). A slow body is also closed once it falls behind ``http_body_min_rate``.
    http_body_timeout: Positive = 30.0
    #: Bytes per second a body must average after its first ``http_body_timeout`` seconds.
    http_body_min_rate: Annotated[int, Meta(ge=1)] = 500
    #: Largest uploaded or fetched file.
    max_file_bytes: Annotated[int, Meta(ge=1024)] = 15 * 1024 * 1024
    #: Seconds an attachment URL fetch may take, redirects included.
    fetch_timeout: Positive = 15.0
    #: Hosts whose attachment URLs may resolve to private addresses (private CDNs), comma
    #: separated: ``cdn.internal,10.0.0.7``.
    fetch_allowed_hosts: str = ""
    #: Largest web page a knowledge import fetches (``POST /v1/knowledge/imports``), in bytes
    #: as received; it is fetched like an attachment (``fetch_timeout``, ``fetch_allowed_hosts``).
    knowledge_import_max_bytes: Annotated[int, Meta(ge=1024)] = 5 * 1024 * 1024
    #: Requests per minute per org from its staff and integrations (API keys, agents, the
    #: bot), over every surface; visitors never count here. 0 turns the limit off.
    org_requests_per_minute: Annotated[int, Meta(ge=0)] = 6000
    #: Requests per minute per visitor (widget session), over every surface; 0: no limit.
    visitor_requests_per_minute: Annotated[int, Meta(ge=0)] = 120
    #: Requests per minute per client address from visitors and anonymous callers together
    #: (many visitors may share one address behind a NAT); 0: no limit.
    address_requests_per_minute: Annotated[int, Meta(ge=0)] = 600
    #: New anonymous widget sessions (new visitors) per minute per client address; 0: no limit.
    address_sessions_per_minute: Annotated[int, Meta(ge=0)] = 20
    #: New anonymous widget sessions per minute per widget; 0: no limit.
    widget_sessions_per_minute: Annotated[int, Meta(ge=0)] = 600
    #: Reverse proxies whose ``X-Forwarded-For`` (and ``X-Forwarded-Proto``) are believed,
    #: comma separated IPs and CIDRs: ``10.0.0.0/8,127.0.0.1``. Empty: the header is never
    #: believed and the client address is the connection's peer.
    trusted_proxies: str = ""

    #: Seconds between webhook attempts, comma separated; how many there are is how many
    #: attempts a delivery gets before it is dead. The first attempt goes out as soon as the
    #: change is stored (a first entry other than 0 is not waited for).
    webhook_retry_schedule: Schedule = "0,5,300,1800,7200,18000,36000,36000"
    #: The same for deliveries to live-agent platforms (a visitor is waiting).
    live_agent_retry_schedule: Schedule = "0,2,5,10,30,60"
    #: Seconds one webhook attempt may take.
    webhook_timeout: Positive = 10.0
    #: Seconds between looks at the outbox for rows other processes wrote or that came due.
    webhook_poll_interval: Positive = 1.0
    #: Hosts webhook and live-agent URLs may resolve to private addresses on, comma
    #: separated (as ``fetch_allowed_hosts``).
    webhook_allowed_hosts: str = ""
    #: Webhook and live-agent attempts at once in one process.
    webhook_concurrency: Annotated[int, Meta(ge=1, le=100)] = 64
    #: Attempts at once to one receiver (a webhook endpoint, or a widget's live-agent
    #: platform), over every process: a receiver that hangs holds no more. 0: no cap.
    webhook_endpoint_concurrency: Annotated[int, Meta(ge=0)] = 8
    #: Attempts at once to all the receivers of one org, over every process. 0: no cap.
    webhook_org_concurrency: Annotated[int, Meta(ge=0)] = 16

    #: The OpenAI-compatible API (``https://api.openai.com/v1``) of ``llm`` bots that name
    #: none themselves; a bot's own ``llm.base_url`` wins. Its host may be a private address
    #: (the operator chose it): it is allowed as if listed in ``llm_allowed_hosts``.
    llm_base_url: Annotated[str, Meta(pattern=r"^(|https?://\S+)$")] = ""
    #: The key sent to the model server by ``llm`` bots that have none of their own.
    llm_api_key: str = dataclasses.field(default="", repr=False)
    #: Hosts a bot's own ``llm.base_url`` may resolve to private addresses on, comma
    #: separated (as ``fetch_allowed_hosts``): a model server on the operator's network.
    llm_allowed_hosts: str = ""
    #: Seconds an ``llm`` bot's answer may go without a byte from the model server (the wait
    #: for the first included) before it fails; the bot's ``timeout_seconds`` bounds the
    #: whole answer.
    llm_idle_timeout: Positive = 10.0

    #: Days a finished delivery (delivered, dead or cancelled) and its attempts stay in the
    #: delivery log and can be replayed; 0 keeps them forever.
    delivery_retention_days: Annotated[int, Meta(ge=0)] = 30
    #: Seconds between two retention sweeps (finished deliveries, expired idempotency keys,
    #: leases of gateway nodes gone for a day).
    retention_interval: Positive = 600.0
    #: Rows a sweep deletes per transaction; it pauses between batches so writers go first.
    retention_batch: Annotated[int, Meta(ge=1, le=10000)] = 500

    #: Seconds a process remembers a valid API key instead of reading it again; a key
    #: revoked elsewhere keeps working here this long at most. 0 reads it every time.
    api_key_cache_seconds: Annotated[float, Meta(ge=0)] = 5.0
    #: Seconds between each process's checks of its open staff sockets' credentials (API
    #: keys, agent and bot tokens); sockets of a revoked key or a disabled or deleted agent
    #: are closed at the next check.
    revocation_check_interval: Positive = 1.0
    #: Seconds an agent's presence (and a "viewing") lives without a refresh, and seconds
    #: between each process's refreshes of its own sockets' (the dashboard's heartbeat
    #: period): the agents of a process that died go offline within the first.
    presence_ttl: Positive = 60.0
    presence_heartbeat: Positive = 20.0
    agent_token_ttl: Annotated[int, Meta(ge=60)] = 3600
    #: The email of the admin a fresh gateway invites (its sign-in link is printed with the
    #: default org's credentials).
    admin_email: Annotated[str, Meta(pattern=r"^[^@\s]+@[^@\s]+$")] = "admin@localhost"
    #: Seconds a dashboard sign-in session lasts (the ``chatgate_session`` cookie).
    session_ttl: Annotated[int, Meta(ge=60)] = 7 * 86400
    #: Seconds an invitation link (``/app/invite#token=...``) can be used.
    invitation_ttl: Annotated[int, Meta(ge=60)] = 7 * 86400
    #: Seconds a password reset link (``/app/reset#token=...``) can be used.
    password_reset_ttl: Annotated[int, Meta(ge=60)] = 86400
    #: Wrong passwords for one account within ``sign_in_lock_seconds`` that lock it for
    #: ``sign_in_lock_seconds``.
    sign_in_max_failures: Annotated[int, Meta(ge=1)] = 10
    #: The same for one client address (over every account it tries).
    sign_in_max_address_failures: Annotated[int, Meta(ge=1)] = 50
    #: Seconds of a sign-in lock, and the window its failures are counted in.
    sign_in_lock_seconds: Annotated[int, Meta(ge=1)] = 900
    visitor_token_ttl: Annotated[int, Meta(ge=60)] = 86400
    idempotency_ttl: Annotated[int, Meta(ge=60)] = 86400
    max_body_bytes: Annotated[int, Meta(ge=1024)] = 1024 * 1024

    #: Seconds a new socket has to send ``hello``.
    hello_timeout: Positive = 5.0
    #: Largest inbound WebSocket frame; bigger frames close the socket with 1009.
    max_frame_bytes: Annotated[int, Meta(ge=1024)] = 64 * 1024
    #: Frames waiting for one socket before it is closed as a slow consumer (4008).
    send_queue_size: Annotated[int, Meta(ge=8)] = 1024
    #: Most frames packed into one array frame when a socket's queue is not empty.
    max_batch: Annotated[int, Meta(ge=1)] = 64
    #: Seconds a room waits for a missing seq before backfilling it from storage.
    gap_timeout: Positive = 0.25
    #: Seconds between WebSocket pings (the socket layer's keepalive); 0 disables them.
    ws_ping_interval: Annotated[float, Meta(ge=0)] = 20.0
    #: Seconds a ping may wait for its pong before the socket is closed with 1011 (at the
    #: next ping round).
    ws_ping_timeout: Positive = 20.0

    #: The directory of web bundles served at ``/widget.js``, ``/sdk.js`` and ``/web/``.
    #: Empty: the bundles committed with chatgate (``gateway/web/dist``).
    web_dist_dir: str = ""

    def __post_init__(self) -> None:
        _networks(self.trusted_proxies)

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """``trusted_proxies`` parsed (a bare address is a network of one)."""
        return _networks(self.trusted_proxies)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Defaults, then ``CHATGATE_*`` variables, then ``overrides`` (flags).

        Raises:
            ValueError: a variable has the wrong type or is out of range.
        """
        environ = os.environ if environ is None else environ
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            name: environ[PREFIX + name.upper()]
            for name in names
            if PREFIX + name.upper() in environ
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(values, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(f"invalid setting: {exc}") from None

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """These settings as ``CHATGATE_*`` variables (what worker processes read back)."""
        env = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            text = str(value).lower() if isinstance(value, bool) else str(value)
            env[PREFIX + field.name.upper()] = text
        return env


def _networks(listed: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma separated IPs and CIDRs as networks.

    Raises:
        ValueError: an entry is neither an IP address nor a CIDR network.
    """
    networks = []
    for entry in filter(None, (part.strip() for part in listed.split(","))):
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"trusted_proxies: {entry!r} is not an IP address or CIDR network"
            ) from None
    return tuple(networks)
