"""Image types by magic bytes."""

from __future__ import annotations

import pytest

from gateway.media.filetypes import EXTENSIONS, IMAGE_TYPES, sniff


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "image/png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a\x01\0\x01\0", "image/gif"),
        (b"GIF89a\x01\0\x01\0", "image/gif"),
        (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\0\0\0WAVEfmt ", None),  # RIFF, but audio
        (b"RIFF\x24\0\0\0WEB", None),  # truncated form type
        (b"GIF88a", None),
        (b"\x89PNG\r\n", None),  # truncated signature
        (b"\xff\xd8", None),
        (b"<html><body>", None),
        (b"%PDF-1.7\n", None),
        (b"", None),
        (b"  \x89PNG\r\n\x1a\n", None),  # the magic must be at the start
    ],
)
def test_sniff_decides_by_magic_bytes(data: bytes, mime: str | None) -> None:
    """Known signatures map to their MIME type; anything else, truncated or shifted, is None."""
    assert sniff(data) == mime


def test_filetypes_tables_agree() -> None:
    """Every image type has an extension, and the extensions are what people expect."""
    assert set(EXTENSIONS) == IMAGE_TYPES
    assert EXTENSIONS == {
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/webp": ".webp",
        "image/gif": ".gif",
    }
