"""Which ``Host`` headers the gateway answers (``CHATGATE_ALLOWED_HOSTS``).

Nothing the gateway stores is built from a request's ``Host`` (file URLs are gateway-relative
or built from ``CHATGATE_PUBLIC_URL``), but a gateway that answers any name can still be
reached under names it does not own: a DNS-rebinding page in a browser, a link that puts a
foreign name in front of this gateway. With ``allowed_hosts`` set, every other ``Host`` gets
``400 bad_request`` in the standard envelope, on HTTP (``RequestContextMiddleware`` asks) and
on the ``/ws`` handshake (the app calls ``host_allowed`` and ``refuse_host`` itself, since sockets
skip the HTTP middleware). The probes ``/healthz`` and ``/readyz`` answer any host: load
balancers probe by address.

Patterns are matched like Starlette's ``TrustedHostMiddleware``: case-insensitive, the port
ignored, ``*.example.com`` matches every subdomain but not ``example.com`` itself, ``*``
matches anything.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass

import orjson
from starlette.types import Receive, Scope, Send

from gateway.settings import Settings
from protocol.codes import HTTP_STATUS, ErrorCode

__all__ = ["PROBES", "HostPolicy", "host_allowed", "refuse_host", "unguarded_warning"]

#: Paths that answer any ``Host``: load balancers and orchestrators probe by address.
PROBES = frozenset({"/healthz", "/readyz"})
#: ``name``, ``name:port``, ``[v6]``, ``[v6]:port``.
_HOST_HEADER = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:\[\]/@]+)(:\d{1,5})?$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """The host names allowed; ``any_host`` when the setting is empty or ``*``."""

    exact: frozenset[str]
    #: Suffixes of the wildcard patterns, with their dot: ``.example.com``.
    suffixes: tuple[str, ...]
    any_host: bool

    @classmethod
    def parse(cls, listed: str) -> HostPolicy:
        patterns = [_normal(p) for p in listed.split(",") if p.strip()]
        return cls(
            exact=frozenset(p for p in patterns if not p.startswith("*")),
            suffixes=tuple(p[1:] for p in patterns if p.startswith("*.")),
            any_host=not patterns or "*" in patterns,
        )

    def allows(self, host_header: str | None) -> bool:
        """Whether a request with this ``Host`` header value is answered."""
        if self.any_host:
            return True
        match = _HOST_HEADER.match(host_header or "")
        if match is None:
            return False
        host = _normal(match.group("host"))
        return host in self.exact or host.endswith(self.suffixes)


def host_allowed(policy: HostPolicy, scope: Scope) -> bool:
    """Whether ``policy`` lets this HTTP request or socket handshake through."""
    if policy.any_host:
        return True
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value.decode("latin-1")
            break
    return policy.allows(host)


async def refuse_host(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``400 bad_request`` in the standard envelope: the response of an HTTP request,
    or the HTTP response that refuses a WebSocket handshake. The request id is the one
    ``RequestContextMiddleware`` gave the request (it adds the header), or a new one."""
    known = scope.get("state", {}).get("request_id")
    request_id = str(known or uuid.uuid4().hex)
    body = orjson.dumps(
        {
            "error": {
                "code": ErrorCode.BAD_REQUEST,
                "message": "this gateway does not answer for the host named in the Host header",
            },
            "request_id": request_id,
        }
    )
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if not known:
        headers.append((b"x-request-id", request_id.encode()))
    prefix = "websocket." if scope["type"] == "websocket" else ""
    await send(
        {
            "type": f"{prefix}http.response.start",
            "status": HTTP_STATUS[ErrorCode.BAD_REQUEST],
            "headers": headers,
        }
    )
    await send({"type": f"{prefix}http.response.body", "body": body})


def unguarded_warning(settings: Settings) -> str | None:
    """What ``serve`` warns about when it listens beyond loopback with neither
    ``CHATGATE_PUBLIC_URL`` nor ``CHATGATE_ALLOWED_HOSTS`` set; None otherwise."""
    if settings.public_url or settings.allowed_hosts.strip() or _is_loopback(settings.host):
        return None
    return (
        f"serving on {settings.host}, beyond loopback, with neither CHATGATE_PUBLIC_URL nor "
        "CHATGATE_ALLOWED_HOSTS set: the gateway answers any Host header and its file URLs "
        "are gateway-relative. Set CHATGATE_ALLOWED_HOSTS to the names clients use (and "
        "CHATGATE_PUBLIC_URL for absolute file URLs); see docs/operations.md"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _normal(host: str) -> str:
    """Lower case, without surrounding spaces and a final dot (``example.com.``)."""
    return host.strip().lower().rstrip(".")
