"""Files and URLs from outside: SSRF-safe fetching, attachments, file types.

Lives here: the fetcher that never becomes an SSRF proxy (``fetch``), vetting of URLs an org
gives us to send to (``outbound``), the content-addressed attachment store (``attachments``)
and file types by magic bytes (``filetypes``).

May import: ``gateway.core``, ``storage``, ``protocol``. Must not import ``gateway.limits``
(a sibling), the handlers, delivery or any transport.
"""

__all__: list[str] = []
