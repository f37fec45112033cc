"""What a widget's colour, a visitor's ``user_hash`` and an identity secret must look like.

Each is a regular expression valid both in Python and in JSON Schema (ECMA 262), as in
``protocol.urls``; ``DESCRIPTIONS`` says each in words, for ``validation_error`` messages.
"""

from __future__ import annotations

from typing import Final

from protocol.urls import END

__all__ = ["COLOR", "DESCRIPTIONS", "HMAC_HEX", "NOT_SPACE", "SECRET"]

#: A CSS hex colour: ``#rgb`` or ``#rrggbb``.
COLOR: Final = r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})" + END
#: A hex HMAC-SHA256 (64 hex digits, either case).
HMAC_HEX: Final = r"^[0-9A-Fa-f]{64}" + END
#: A secret an org brings: printable, no whitespace.
#: A character that is not white space, spelled out so that Python (``str.strip``, ``\\S``)
#: and ECMA-262 (``\\s``) regexes agree on it (they differ on U+001C to U+001F).
NOT_SPACE: Final = (
    r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
SECRET: Final = rf"^{NOT_SPACE}+" + END

DESCRIPTIONS: Final = {
    COLOR: "a hex colour: `#rgb` or `#rrggbb`",
    HMAC_HEX: "a hex HMAC-SHA256: 64 hex digits",
    SECRET: "a secret without whitespace",
}
