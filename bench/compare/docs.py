"""The compare's place in a Markdown page: between two markers, replaced whole each run."""

from __future__ import annotations

from pathlib import Path

__all__ = ["BEGIN", "END", "write_between_markers"]

BEGIN = "<!-- compare:begin -->"
END = "<!-- compare:end -->"


def write_between_markers(page: Path, block: str) -> None:
    """Put ``block`` between ``BEGIN`` and ``END`` in ``page``, replacing what was there. A page
    without the markers gets them, with the block, at its end (a new page is just that)."""
    text = page.read_text() if page.exists() else ""
    fenced = f"{BEGIN}\n{block.strip()}\n{END}"
    start, end = text.find(BEGIN), text.find(END)
    if start == -1 or end < start:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + fenced + "\n"
    else:
        text = text[:start] + fenced + text[end + len(END) :]
    page.write_text(text)
