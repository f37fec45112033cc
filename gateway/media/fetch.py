"""Fetch an image (or a web page) from a URL that a client gave us, without becoming an SSRF
proxy.

Every hop (the URL asked for, then each redirect) goes through the same three steps:

1. parse: ``http`` or ``https`` only, no credentials in the URL;
2. resolve the host once and refuse the hop if *any* address is not public
   (``address_allowed``), unless the host is on the operator's allow-list;
3. connect to a vetted address itself, with the real name in ``Host`` and in TLS (SNI and
   certificate check), so that no second DNS answer can point elsewhere (DNS rebinding).

Redirects are followed by hand. Cookies, credentials and proxies are never used. The body is
read raw (never decompressed) under a byte limit, its type is decided by magic bytes, and the
whole fetch runs under one deadline. A policy that allows ``text/html`` (knowledge imports)
takes a body the server labels HTML, or that opens like HTML, as a page.

``post`` sends a webhook the same way: one vetted hop (a redirect is an answer, never
followed), under one deadline, reading at most a little of the answer. ``open_post`` is the
same hop with the answer handed over unread, for a caller that streams it (an ``llm`` bot).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from types import TracebackType
from typing import Literal, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx2 as httpx

from gateway.media.filetypes import IMAGE_TYPES, sniff
from protocol.errors import ChatgateError

__all__ = [
    "HTML",
    "FetchPolicy",
    "FetchRefused",
    "Fetched",
    "Fetcher",
    "Posted",
    "Reason",
    "address_allowed",
]

logger = logging.getLogger(__name__)

#: The MIME type of a web page, for ``FetchPolicy.allowed_types``.
HTML = "text/html"

#: Why a fetch was refused: stable codes, safe to show to clients.
Reason = Literal[
    "unsupported_scheme",
    "invalid_url",
    "unsafe_address",
    "unresolvable",
    "redirect_loop",
    "too_many_redirects",
    "http_status",
    "too_large",
    "timeout",
    "unsupported_type",
    "connection_failed",
]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HEADERS = {
    "User-Agent": "chatgate-fetch/1",
    "Accept": "image/*",
    # What arrives is what is counted against max_bytes and stored.
    "Accept-Encoding": "identity",
}
_MAX_FILENAME = 200
_MAX_LOGGED_URL = 500

# Refused whatever ``ipaddress`` says: some of these (CGNAT) are not in its ``is_private``,
# and its tables have changed between Python releases.
_REFUSED_V4 = tuple(
    IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network"; connecting to 0.0.0.0 reaches the local host
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT, incl. Alibaba metadata 100.100.100.200
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, incl. cloud metadata 169.254.169.254
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast 255.255.255.255
    )
)
_REFUSED_V6 = tuple(
    IPv6Network(network)
    for network in (
        "::/128",  # unspecified
        "::1/128",  # loopback
        "100::/64",  # discard-only
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local, incl. AWS metadata fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")


def address_allowed(ip: IPv4Address | IPv6Address) -> bool:
    """Whether a fetch may connect to ``ip``: a public unicast address, nothing else.

    IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible
    ``::a.b.c.d``, NAT64, 6to4, Teredo) reach that IPv4 address, so they are judged by it;
    Teredo by both its server and its client address.
    """
    if isinstance(ip, IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(_public(v4) for v4 in embedded)
    return _public(ip)


def _public(ip: IPv4Address | IPv6Address) -> bool:
    if not ip.is_global or (
        ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or ip.is_link_local
        or ip.is_loopback
        or ip.is_private
    ):
        return False
    refused = _REFUSED_V4 if isinstance(ip, IPv4Address) else _REFUSED_V6
    return not any(ip in network for network in refused)


def _embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses that ``ip`` leads to, if it is one of the IPv4-carrying forms."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.teredo is not None:
        return ip.teredo
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    last32 = IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip in _IPV4_COMPATIBLE or ip in _NAT64:
        return (last32,)
    if ip in _NAT64_LOCAL:
        # RFC 6052 puts the IPv4 address of a /48 prefix in bits 48-63 and 72-87, a /96 in
        # the last 32 bits; which one the local NAT64 uses is unknown, so both must pass.
        packed = ip.packed
        return (last32, IPv4Address(packed[6:8] + packed[9:11]))
    return ()


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What a ``Fetcher`` may fetch. The defaults suit user-supplied image URLs.

    Raises:
        ValueError: a limit is out of range, or an allowed host is not lower-case.
    """

    #: Seconds for the whole fetch, every redirect included.
    timeout: float = 15.0
    #: Largest body accepted, in bytes as received (nothing is decompressed).
    max_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    #: Hosts whose addresses are not vetted (a private CDN): exact host names in their
    #: ASCII (``xn--``) form or IP literals (IPv6 without brackets), lower-case.
    allowed_hosts: frozenset[str] = frozenset()
    #: MIME types, as decided by ``filetypes.sniff`` (or ``text/html`` for a page), that are
    #: accepted.
    allowed_types: frozenset[str] = IMAGE_TYPES
    #: The ``Accept`` header of a fetch.
    accept: str = "image/*"

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, not {self.timeout}")
        if self.max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, not {self.max_bytes}")
        if self.max_redirects < 0:
            raise ValueError(f"max_redirects must not be negative, not {self.max_redirects}")
        for host in self.allowed_hosts:
            if host != host.lower():
                raise ValueError(f"allowed host {host!r} must be lower-case")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched image (or page)."""

    #: The URL asked for.
    url: str
    #: The URL the body came from, after redirects.
    final_url: str
    data: bytes = field(repr=False)
    #: Decided by the body's magic bytes; one of ``FetchPolicy.allowed_types``.
    mime: str
    #: The final URL's last path segment, percent-decoded, with no path separators or
    #: control characters, at most 200 characters; None when there is none. Still
    #: client-controlled: never use it as a path.
    filename: str | None


@dataclass(frozen=True, slots=True)
class Posted:
    """The answer to a POST: its status, its ``Retry-After``, the start of its body."""

    status: int
    retry_after: str | None
    body: bytes = field(repr=False)


#: How much of a webhook receiver's answer is kept (for the delivery log).
_POSTED_BODY = 1024


class FetchRefused(ChatgateError):
    """A URL was not fetched.

    Args:
        url: the URL the caller gave (not the redirect hop that failed).
        reason: a stable short code, safe to show to clients.
        message: a human-readable sentence for operators. It may name the addresses a host
            resolved to, so show clients the reason, not the message.
    """

    def __init__(self, url: str, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.reason: Reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r}, {self.reason!r}, {self.message!r})"


class Fetcher:
    """Fetches images from untrusted URLs under a ``FetchPolicy``.

    Fetches may run concurrently. The fetcher owns an HTTP client: close it with
    ``aclose()``, or use it as an async context manager.
    """

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._accept = {"Accept": policy.accept}
        self._client = httpx.AsyncClient(
            headers=_HEADERS,
            # A jar that accepts no cookie: nothing one hop sets is sent to the next.
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            timeout=httpx.Timeout(policy.timeout),
            follow_redirects=False,
            # No proxies from the environment (a proxy would resolve the name itself), no
            # .netrc credentials.
            trust_env=False,
            # The pool keys connections by origin, which is the vetted IP here: a kept-alive
            # TLS connection made for one name would be reused for another name on the same
            # address without checking its certificate. Use each connection once.
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def fetch(self, url: str) -> Fetched:
        """Fetch the image at ``url``, following up to ``policy.max_redirects`` redirects.

        Returns:
            The body with its sniffed type and the URL it finally came from.

        Raises:
            FetchRefused: the URL, an address it resolves to, the answer or the body broke
                the policy, or the fetch failed; ``reason`` says which.
        """
        try:
            async with asyncio.timeout(self.policy.timeout):
                return await self._fetch(url)
        except FetchRefused as exc:
            _logged(exc)
            raise
        except (TimeoutError, httpx.TimeoutException) as exc:
            message = f"no complete answer within {self.policy.timeout:g}s"
            raise _logged(FetchRefused(url, "timeout", message)) from exc
        except httpx.TransportError as exc:
            message = f"the connection failed: {type(exc).__name__}"
            raise _logged(FetchRefused(url, "connection_failed", message)) from exc

    async def check(self, url: str) -> None:
        """Refuse ``url`` now if it could never be fetched or posted to (scheme, host,
        addresses), as ``fetch`` and ``post`` would; nothing is sent.

        Raises:
            FetchRefused: as ``fetch`` would for the first hop.
        """
        try:
            await self._resolve(url, _parse(url, url))
        except FetchRefused as exc:
            _logged(exc)
            raise

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Posted:
        """POST ``body`` to ``url`` (vetted as for ``fetch``), within ``policy.timeout``.

        Any answer is returned, redirects and errors included; only the first kilobyte of
        its body is read.

        Raises:
            FetchRefused: the URL or its addresses broke the policy, the connection failed,
                or no answer came in time.
        """
        try:
            async with asyncio.timeout(self.policy.timeout):
                current = _parse(url, url)
                response = await self._send(url, current, "POST", body, headers)
                try:
                    kept = bytearray()
                    async for chunk in response.aiter_raw():
                        kept += chunk
                        if len(kept) >= _POSTED_BODY:
                            break
                finally:
                    await response.aclose()
                retry_after = response.headers.get("retry-after")
                return Posted(response.status_code, retry_after, bytes(kept[:_POSTED_BODY]))
        except FetchRefused as exc:
            _logged(exc)
            raise
        except (TimeoutError, httpx.TimeoutException) as exc:
            message = f"no answer within {self.policy.timeout:g}s"
            raise FetchRefused(url, "timeout", message) from exc
        except httpx.TransportError as exc:
            message = f"the connection failed: {type(exc).__name__}"
            raise FetchRefused(url, "connection_failed", message) from exc

    @asynccontextmanager
    async def open_post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """POST ``body`` to ``url`` (vetted as for ``fetch``; a redirect is an answer, never
        followed) and hand over the answer unread, to be streamed (``aiter_raw``) by the
        caller under its own deadline and size limit; it is closed when the block ends.
        The client's ``policy.timeout`` bounds each connect, write and read.

        Raises:
            FetchRefused: the URL or its addresses broke the policy, the connection failed,
                or connecting took longer than ``policy.timeout``.
        """
        try:
            response = await self._send(url, _parse(url, url), "POST", body, headers)
        except FetchRefused as exc:
            _logged(exc)
            raise
        except httpx.TimeoutException as exc:
            message = f"no answer within {self.policy.timeout:g}s"
            raise FetchRefused(url, "timeout", message) from exc
        except httpx.TransportError as exc:
            message = f"the connection failed: {type(exc).__name__}"
            raise FetchRefused(url, "connection_failed", message) from exc
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _fetch(self, url: str) -> Fetched:
        current = _parse(url, url)
        visited = {str(current)}
        redirects = 0
        while True:
            response = await self._send(url, current, extra_headers=self._accept)
            declared = response.headers.get("content-type", "")
            try:
                location = None
                if response.status_code in _REDIRECT_STATUSES:
                    location = response.headers.get("location")
                if location is None:
                    data = await self._read(url, response)
                    break
            finally:
                await response.aclose()
            if redirects == self.policy.max_redirects:
                message = f"more than {self.policy.max_redirects} redirects"
                raise FetchRefused(url, "too_many_redirects", message)
            redirects += 1
            current = _parse(url, location, base=current)
            if str(current) in visited:
                raise FetchRefused(url, "redirect_loop", f"redirected back to {current}")
            visited.add(str(current))

        mime = sniff(data)
        if mime is None and HTML in self.policy.allowed_types and _html(declared, data):
            mime = HTML
        if mime is None or mime not in self.policy.allowed_types:
            message = f"the body is {mime or 'of no known type'}, which is not allowed"
            raise FetchRefused(url, "unsupported_type", message)
        return Fetched(
            url=url, final_url=str(current), data=data, mime=mime, filename=_filename(current)
        )

    async def _send(
        self,
        original: str,
        url: httpx.URL,
        method: str = "GET",
        content: bytes | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request for ``url`` to one of its vetted addresses; the response is
        streaming."""
        addresses = await self._resolve(original, url)
        host = url.raw_host.decode("ascii")
        headers = {**(extra_headers or {}), "Host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        failure: httpx.ConnectError | None = None
        for address in addresses:
            request = self._client.build_request(
                method,
                url.copy_with(host=str(address)),
                headers=headers,
                content=content,
                extensions=extensions,
            )
            try:
                return await self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc  # e.g. no IPv6 route here: the next vetted address may work
        raise FetchRefused(original, "connection_failed", f"could not connect to {host}: {failure}")

    async def _resolve(self, original: str, url: httpx.URL) -> list[IPv4Address | IPv6Address]:
        """The addresses of ``url``'s host, resolved once; all of them public, or refused."""
        host = url.raw_host.decode("ascii")
        port = url.port or _DEFAULT_PORTS[url.scheme]
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise FetchRefused(original, "unresolvable", f"cannot resolve {host}: {exc}") from None
        # Numeric hosts such as "2130706433", "0x7f000001" or "127.1" are resolved here too
        # (to 127.0.0.1 by glibc): whatever the spelling, the address connected to is vetted.
        addresses = list(
            dict.fromkeys(ipaddress.ip_address(str(info[4][0]).partition("%")[0]) for info in infos)
        )
        if not addresses:
            raise FetchRefused(original, "unresolvable", f"{host} has no address")
        if host not in self.policy.allowed_hosts:
            unsafe = [address for address in addresses if not address_allowed(address)]
            if unsafe:
                listed = ", ".join(map(str, unsafe))
                message = f"{host} resolves to {listed}, which is not a public address"
                raise FetchRefused(original, "unsafe_address", message)
        return addresses

    async def _read(self, original: str, response: httpx.Response) -> bytes:
        """The body of a final (non-redirect) answer, within the policy's limits."""
        if not response.is_success:
            message = f"the server answered {response.status_code}"
            raise FetchRefused(original, "http_status", message)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # Decompressing would let a small body expand far past max_bytes.
            message = f"the body is compressed ({encoding}); only identity is accepted"
            raise FetchRefused(original, "unsupported_type", message)
        limit = self.policy.max_bytes
        too_large = FetchRefused(original, "too_large", f"the body is over {limit} bytes")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > limit:
                raise too_large
        return bytes(body)


def _html(declared: str, data: bytes) -> bool:
    """Whether a body is a web page: labelled HTML, or opening like HTML."""
    mime = declared.partition(";")[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return True
    start = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<!doctype html", b"<html"))


def _parse(original: str, text: str, base: httpx.URL | None = None) -> httpx.URL:
    """``text`` (resolved against ``base``) as a URL this fetcher may try."""
    try:
        url = httpx.URL(text) if base is None else base.join(text)
    except httpx.InvalidURL as exc:
        raise FetchRefused(original, "invalid_url", f"invalid URL: {exc}") from None
    if url.scheme not in _DEFAULT_PORTS:
        message = f"only http and https URLs are fetched, not {url.scheme or 'no scheme'}"
        raise FetchRefused(original, "unsupported_scheme", message)
    if url.userinfo:
        raise FetchRefused(original, "invalid_url", "credentials in the URL are not allowed")
    if not url.raw_host:
        raise FetchRefused(original, "invalid_url", "the URL has no host")
    # httpx2 accepts any integer port, and getaddrinfo wraps 65616 around to 80.
    if url.port is not None and not 0 < url.port < 65536:
        raise FetchRefused(original, "invalid_url", f"port {url.port} is out of range")
    return url


def _filename(url: httpx.URL) -> str | None:
    segment = url.raw_path.split(b"?", 1)[0].rsplit(b"/", 1)[-1]
    name = unquote(segment.decode("ascii", "replace"))
    # "%2F" and "%5C" decode to separators: keep only what follows the last one.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable()).strip()
    if name in ("", ".", ".."):
        return None
    return name[:_MAX_FILENAME]


def _logged(refusal: FetchRefused) -> FetchRefused:
    level = logging.WARNING if refusal.reason == "unsafe_address" else logging.INFO
    url = _redacted(refusal.url)
    logger.log(level, "fetch refused: url=%r reason=%s: %s", url, refusal.reason, refusal.message)
    return refusal


def _redacted(url: str) -> str:
    """``url`` fit for a log line: no credentials, and not too long."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[:_MAX_LOGGED_URL]
    if "@" in parts.netloc:
        parts = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2])
    return urlunsplit(parts)[:_MAX_LOGGED_URL]
