"""Files and URLs from outside: SSRF-safe fetching, attachments, file types, web pages.

Lives here: the fetcher that never becomes an SSRF proxy (``fetch``), vetting of URLs an org
gives us to send to (``outbound``), the content-addressed attachment store (``attachments``),
file types by magic bytes (``filetypes``) and web pages reduced to their main text for the
knowledge base (``pages``).

May import: ``gateway.core``, ``storage``, ``protocol``. Must not import ``gateway.limits``
(a sibling), the handlers, delivery or any transport.
"""

__all__: list[str] = []
