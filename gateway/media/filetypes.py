"""File types decided by magic bytes, never by a name or a ``Content-Type`` header."""

from __future__ import annotations

__all__ = ["EXTENSIONS", "IMAGE_TYPES", "sniff"]

#: MIME type -> file extension, for the image types ``sniff`` recognises.
EXTENSIONS: dict[str, str] = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
}

IMAGE_TYPES: frozenset[str] = frozenset(EXTENSIONS)

#: (MIME type, ((offset, magic bytes), ...)): a type matches when all its parts do.
_SIGNATURES: tuple[tuple[str, tuple[tuple[int, bytes], ...]], ...] = (
    ("image/png", ((0, b"\x89PNG\r\n\x1a\n"),)),
    ("image/jpeg", ((0, b"\xff\xd8\xff"),)),
    ("image/gif", ((0, b"GIF87a"),)),
    ("image/gif", ((0, b"GIF89a"),)),
    # RIFF, a 4-byte little-endian size, then the form type.
    ("image/webp", ((0, b"RIFF"), (8, b"WEBP"))),
)


def sniff(data: bytes) -> str | None:
    """The MIME type that ``data`` starts like, or None if it is none of ``IMAGE_TYPES``."""
    for mime, parts in _SIGNATURES:
        if all(data[offset : offset + len(magic)] == magic for offset, magic in parts):
            return mime
    return None
