"""Web pages for the knowledge base: fetched like attachments, reduced to their main text.

A page is fetched through the SSRF-safe ``Fetcher`` (public addresses only, bounded size,
redirects and time), under a policy that accepts HTML only. Its main text (the article, without
navigation, headers, footers or comments) is extracted by trafilatura as Markdown, headings
kept (its first ``MAX_PAGE_CHARS`` characters), so that the knowledge base cuts it into
passages as it does a written article. Its title is the page's own (``<title>`` or its
metadata), else the first heading, else the URL.

Every refusal is ``page_rejected`` with ``details.url`` and a stable ``details.reason``: the
fetcher's reasons (``unsafe_address``, ``unresolvable``, ``connection_failed``, ``timeout``,
``http_status``, ``too_large``, ``invalid_url``, ``unsupported_scheme``, ``redirect_loop``,
``too_many_redirects``), ``not_html`` for a body that is no web page, and ``no_text`` for a
page with no main text to keep.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from gateway.media.fetch import HTML, Fetcher, FetchPolicy, FetchRefused
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["MAX_PAGE_CHARS", "REASONS", "Page", "PageReader", "page_policy"]

#: What each reason tells the client (the fetcher's own message may name internal addresses).
REASONS = {
    "unsupported_scheme": "only http and https URLs can be fetched",
    "invalid_url": "the URL is not valid",
    "unsafe_address": "the host is not a public address",
    "unresolvable": "the host name does not resolve",
    "redirect_loop": "the URL redirects in a loop",
    "too_many_redirects": "the URL redirects too many times",
    "http_status": "the server did not answer with the page",
    "too_large": "the page is too large",
    "timeout": "fetching the page took too long",
    "not_html": "the URL is not an HTML page",
    "connection_failed": "the server could not be reached",
    "no_text": "the page has no main text to import",
}

#: The most characters of a page's main text that are kept (the rest is cut off).
MAX_PAGE_CHARS = 200_000

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_MAX_TITLE = 300


@dataclass(frozen=True, slots=True)
class Page:
    """A page's title, its main text as Markdown, and the URL it came from (redirects
    followed)."""

    title: str
    text: str
    final_url: str


def page_policy(*, timeout: float, max_bytes: int, allowed_hosts: frozenset[str]) -> FetchPolicy:
    """The fetch policy of pages: HTML only, the other limits as given."""
    return FetchPolicy(
        timeout=timeout,
        max_bytes=max_bytes,
        allowed_hosts=allowed_hosts,
        allowed_types=frozenset({HTML}),
        accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    )


class PageReader:
    """Reads pages through its own ``Fetcher`` (close it with ``aclose``)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._fetcher = Fetcher(policy)

    async def aclose(self) -> None:
        await self._fetcher.aclose()

    async def read(self, url: str) -> Page:
        """The page at ``url``.

        Raises:
            GatewayError: ``page_rejected`` (``details``: ``url``, ``reason``).
        """
        try:
            fetched = await self._fetcher.fetch(url)
        except FetchRefused as exc:
            reason = "not_html" if exc.reason == "unsupported_type" else exc.reason
            raise _rejected(url, reason) from None
        # lxml parsing is CPU work: off the event loop.
        page = await asyncio.to_thread(_extract, fetched.data, fetched.final_url)
        if page is None:
            raise _rejected(url, "no_text")
        return page


def _extract(data: bytes, url: str) -> Page | None:
    # Imported on first use: trafilatura (with lxml, dateparser...) takes a second or more to
    # import, which every start of the gateway would otherwise pay.
    import trafilatura

    text = trafilatura.extract(
        data,
        url=url,
        output_format="markdown",
        include_comments=False,
        include_images=False,
        include_links=False,
        include_tables=True,
    )
    if not text or not text.strip():
        return None
    text = text.strip()[:MAX_PAGE_CHARS]
    document = trafilatura.bare_extraction(data, url=url, with_metadata=True)
    title = (getattr(document, "title", None) or "").strip()
    if not title:
        heading = _HEADING.search(text)
        title = heading.group(1) if heading else url
    return Page(title[:_MAX_TITLE], text, url)


def _rejected(url: str, reason: str) -> GatewayError:
    return GatewayError(
        ErrorCode.PAGE_REJECTED,
        f"the page at {url} cannot be imported: {REASONS.get(reason, reason)}",
        details={"url": url, "reason": reason},
    )
