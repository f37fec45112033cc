"""What a widget's colour, a visitor's ``user_hash`` and an identity secret must look like.

Each is a regular expression valid both in Python and in JSON Schema (ECMA 262), as in
``protocol.urls``; ``DESCRIPTIONS`` says each in words, for ``validation_error`` messages.
"""

from __future__ import annotations

from typing import Final

from protocol.urls import END

__all__ = ["COLOR", "DESCRIPTIONS", "HMAC_HEX", "SECRET"]

#: A CSS hex colour: ``#rgb`` or ``#rrggbb``.
COLOR: Final = r"^#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})" + END
#: A hex HMAC-SHA256 (64 hex digits, either case).
HMAC_HEX: Final = r"^[0-9A-Fa-f]{64}" + END
#: A secret an org brings: printable, no whitespace.
SECRET: Final = r"^\S+" + END

DESCRIPTIONS: Final = {
    COLOR: "a hex colour: `#rgb` or `#rrggbb`",
    HMAC_HEX: "a hex HMAC-SHA256: 64 hex digits",
    SECRET: "a secret without whitespace",
}
