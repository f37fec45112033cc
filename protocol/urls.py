"""What an origin and a URL an org configures must look like.

Each is a regular expression valid both in Python and in JSON Schema (ECMA 262), so the
OpenAPI document states the same rule that decoding enforces.

- **Host**: a DNS name (letters, digits, ``-`` and ``_``; labels of 1 to 63 characters that
  neither start nor end with ``-``), an IPv4 address, or an IPv6 address in brackets. Names
  are ASCII: write an internationalized name in its ``xn--`` form.
- **Port**: ``1`` to ``65535``, optional.
- **Origin** (a widget's ``allowed_origins``): exactly what a browser sends in ``Origin``,
  ``http(s)://host[:port]``, with no path, query or trailing slash; or ``*`` (any origin,
  and requests without one); or ``http(s)://*.example.com[:port]`` (any subdomain of
  ``example.com`` at any depth, not ``example.com`` itself; at least two labels after
  ``*.``).
- **URL** (webhook endpoints, a live-agent platform, attachments): absolute ``http`` or
  ``https`` with a host, then optionally a path, query or fragment; no whitespace or control
  characters anywhere.
"""

from __future__ import annotations

from typing import Final

__all__ = ["END", "ORIGIN", "URL"]

#: The end of the string in Python and ECMA regexes alike ("$" also matches before a "\n").
END: Final = r"(?![\s\S])"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_NAME = rf"{_LABEL}(?:\.{_LABEL})*"
_IPV6 = r"\[[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::[0-9]{1,3}(?:\.[0-9]{1,3}){3})?\]"
_HOST = rf"(?:{_NAME}|{_IPV6})"
_PORT = (  # 1 to 65535
    r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}"
    r"|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
)
_WILDCARD = rf"\*\.{_LABEL}(?:\.{_LABEL})+"

#: A widget's allowed origin: ``*``, ``http(s)://host[:port]`` or ``http(s)://*.domain[:port]``.
ORIGIN: Final = rf"^(?:\*|https?://(?:{_WILDCARD}|{_HOST}){_PORT}){END}"

#: An absolute ``http(s)`` URL with a host (and optional user info, port, path, query).
URL: Final = (
    rf"^https?://(?:[^\s\x00-\x1f\x7f/?#@\[\]]+@)?{_HOST}{_PORT}"
    rf"(?:[/?#][^\s\x00-\x1f\x7f]*)?{END}"
)
