"""Attachments: every file a message carries lands in one content-addressed store.

A file is stored once per org under the sha-256 of its bytes and served back by the gateway at
``/v1/files/{sha256}`` (readable only with a credential of that org), so the same bytes sent to
ten conversations are stored once and get the same URL. Files arrive two ways:

- **upload** (``StoreUpload``): any type, up to ``max_file_bytes``; images are typed by their
  magic bytes, anything else keeps its declared type and is served as a download;
- **by URL** (a message's ``attachments``): a URL of this gateway's own files is looked up; any
  other URL is fetched by the SSRF-safe ``Fetcher`` (images only) and stored.

Who reads a file: the org's staff (API keys, agents, the bot) any file of the org; a visitor
only the files of their own conversations (uploaded into one, or carried by one of its
messages). Lookups for a visitor pass their ``contact_id``; a file they may not see is
answered exactly as one that does not exist, so that hashes cannot be probed.

The URL a file gets, and that messages store, is ``{public_url}/v1/files/{sha256}`` when the
operator set ``public_url``, else the gateway-relative ``/v1/files/{sha256}``: never anything
from the request, so a forged ``Host`` cannot put another domain into stored messages for
clients to send their credentials to. A request's own address (``base_url``) only helps to
recognise an absolute URL of this gateway's files that a client sends back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Scope

from gateway.media.fetch import Fetcher, FetchRefused
from gateway.media.filetypes import IMAGE_TYPES, sniff
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import StoredFile, now

__all__ = ["Attachments", "base_url_of", "serving_headers"]

FILE_PATH = re.compile(r"^/v1/files/([0-9a-f]{64})$")
#: A declared MIME type worth keeping for a download (``type/subtype``, no parameters).
MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
DOWNLOAD = "application/octet-stream"
#: What a client is told about each fetch refusal.
REASONS = {
    "unsupported_scheme": "only http and https URLs can be fetched",
    "invalid_url": "the URL is not valid",
    "unsafe_address": "the host is not a public address",
    "unresolvable": "the host name does not resolve",
    "redirect_loop": "the URL redirects in a loop",
    "too_many_redirects": "the URL redirects too many times",
    "http_status": "the server did not answer with the file",
    "too_large": "the file is too large",
    "timeout": "fetching the file took too long",
    "unsupported_type": "the file is not a png, jpeg, webp or gif image",
    "connection_failed": "the server could not be reached",
}


class Attachments:
    """Stores uploads, resolves attachment URLs, and names files by URL.

    Args:
        store: where files live.
        fetcher: fetches attachment URLs that are not this gateway's own files.
        public_url: the gateway's public base URL; empty: file URLs are gateway-relative.
        max_file_bytes: the largest upload.
    """

    def __init__(self, store: Store, fetcher: Fetcher, public_url: str, max_file_bytes: int):
        self._store = store
        self._fetcher = fetcher
        self._public_url = public_url.rstrip("/")
        self.max_file_bytes = max_file_bytes

    async def aclose(self) -> None:
        await self._fetcher.aclose()

    def file_url(self, sha256: str) -> str:
        """The URL of a stored file, as messages store it."""
        return f"{self._public_url}/v1/files/{sha256}"

    async def upload(
        self,
        org_id: str,
        conversation_id: str,
        data: bytes,
        filename: str | None,
        content_type: str | None,
    ) -> dict[str, Any]:
        """Store a file uploaded into a conversation; returns the attachment object for it.

        Raises:
            GatewayError: ``payload_too_large`` over ``max_file_bytes``; ``validation_error``
                for an empty file; ``not_found`` for a conversation not of the org.
        """
        if len(data) > self.max_file_bytes:
            raise GatewayError(
                ErrorCode.PAYLOAD_TOO_LARGE, f"files are limited to {self.max_file_bytes} bytes"
            )
        if not data:
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR, "the file is empty", details={"path": "$.file"}
            )
        mime = sniff(data) or _declared(content_type)
        stored = await self._put(org_id, data, mime, conversation_id)
        return self._describe(stored, _clean_name(filename))

    async def resolve(
        self,
        org_id: str,
        base_url: str | None,
        attachments: Sequence[cmd.Attachment],
        *,
        contact_id: str | None = None,
    ) -> tuple[dict[str, Any], ...]:
        """The stored form of a message's attachments, fetching what is not stored yet.

        A URL of this gateway's own files names a file the sender may read: with
        ``contact_id`` (a visitor), one of their own conversations. Storing the message then
        makes the file one of its conversation's too.

        Raises:
            GatewayError: ``attachment_rejected`` naming the offending URL (and why) when a
                file cannot be found, fetched, or is not an accepted image.
        """
        resolved = []
        for attachment in attachments:
            own = self._own_file(attachment.url, base_url)
            if own is not None:
                stored = await self._store.get_file(org_id, own, contact_id=contact_id)
                if stored is None:
                    raise _rejected(attachment.url, "unknown_file", "no such file in this org")
                name = attachment.name
            else:
                try:
                    fetched = await self._fetcher.fetch(attachment.url)
                except FetchRefused as exc:
                    # The refusal's own message may name internal addresses: only its
                    # reason goes back to the client.
                    raise _rejected(
                        attachment.url, exc.reason, REASONS.get(exc.reason, exc.reason)
                    ) from None
                stored = await self._put(org_id, fetched.data, fetched.mime)
                name = attachment.name or fetched.filename
            described = self._describe(stored, name)
            if own is None:
                described["source_url"] = attachment.url
            resolved.append(described)
        return tuple(resolved)

    async def read(
        self, org_id: str, sha256: str, *, contact_id: str | None = None
    ) -> tuple[StoredFile, bytes]:
        """A file and its bytes; with ``contact_id``, only one of that contact's conversations.

        Raises:
            GatewayError: ``not_found`` for a file the caller may not read, or none at all.
        """
        found = await self._store.read_file(org_id, sha256, contact_id=contact_id)
        if found is None:
            raise GatewayError.not_found("file")
        return found

    async def _put(
        self, org_id: str, data: bytes, mime: str, conversation_id: str | None = None
    ) -> StoredFile:
        sha256 = hashlib.sha256(data).hexdigest()
        stored = StoredFile(org_id, sha256, mime, len(data), now())
        return await self._store.put_file(stored, data, conversation_id=conversation_id)

    def _own_file(self, url: str, base_url: str | None) -> str | None:
        """The sha-256 named by ``url`` if it is a file URL of this gateway: gateway-relative,
        or under ``public_url`` or the address the client used (``base_url``)."""
        split = urlsplit(url)
        match = FILE_PATH.match(split.path)
        if match is None or split.query or split.fragment:
            return None
        if not split.scheme and not split.netloc:
            return match.group(1)
        origin = f"{split.scheme}://{split.netloc}".lower()
        bases = {self._public_url.lower(), (base_url or "").rstrip("/").lower()} - {""}
        return match.group(1) if origin in bases else None

    def _describe(self, stored: StoredFile, name: str | None) -> dict[str, Any]:
        described: dict[str, Any] = {
            "url": self.file_url(stored.sha256),
            "mime": stored.mime,
            "size": stored.size,
            "sha256": stored.sha256,
        }
        if name:
            described["name"] = name
        return described


def serving_headers(stored: StoredFile) -> dict[str, str]:
    """Headers for serving a stored file: immutable, never sniffed, never run as a page."""
    headers = {
        "Cache-Control": "private, max-age=31536000, immutable",
        "ETag": f'"{stored.sha256}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if stored.mime not in IMAGE_TYPES:
        headers["Content-Disposition"] = "attachment"
    return headers


def base_url_of(scope: Scope) -> str:
    """``http(s)://host[:port]`` as the client reached this gateway (REST or WebSocket): only
    to recognise URLs of this gateway's files, never to build one."""
    scheme = {"ws": "http", "wss": "https"}.get(scope["scheme"], scope["scheme"])
    host = None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
            break
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}"


def _declared(content_type: str | None) -> str:
    """A declared type kept for downloads; images must prove themselves by their bytes."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if not MIME.match(mime) or mime.startswith("image/") or "html" in mime or "xml" in mime:
        return DOWNLOAD
    return mime


def _clean_name(filename: str | None) -> str | None:
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:200] or None


def _rejected(url: str, reason: str, message: str) -> GatewayError:
    return GatewayError(
        ErrorCode.ATTACHMENT_REJECTED,
        f"attachment {url} was rejected: {message}",
        details={"url": url, "reason": reason},
    )
