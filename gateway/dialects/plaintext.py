"""Markdown reduced to plain text (LiveChatAI's ``responseFormat: PLAIN``).

The answer is parsed with markdown-it-py (CommonMark, plus tables and strikethrough) and its
token stream written back as text a chat client shows as is (WhatsApp, SMS, Slack's plain
text): no emphasis markers, no heading or quote markers, no HTML tags; a link becomes its text
followed by its URL in parentheses (just the URL when the text is the URL), an image its alt
text; list items keep a ``- `` or ``1. `` marker (nested ones indented); code keeps its text;
table rows become their cells joined by `` | ``; blocks are separated by a blank line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["markdown_to_text"]

_PARSER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def markdown_to_text(markdown: str) -> str:
    """``markdown`` as plain text (see the module docstring)."""
    writer = _Writer()
    for token in _PARSER.parse(markdown):
        writer.feed(token)
    return "\n\n".join(b for b in writer.blocks if b.strip())


@dataclass
class _List:
    #: The next item's number; ``None`` for a bullet list.
    number: int | None


@dataclass
class _Writer:
    blocks: list[str] = field(default_factory=list)
    #: The lists open around the current token, outermost first.
    lists: list[_List] = field(default_factory=list)
    #: The lines of the outermost open list (one block when it closes).
    list_lines: list[str] = field(default_factory=list)
    #: The marker the next paragraph of a list item starts with ("" once used), and the
    #: indent of the item's later lines (under its text).
    marker: str = ""
    hanging: str = ""
    #: Rows of the open table, and cells of the open row.
    rows: list[str] | None = None
    cells: list[str] | None = None

    def feed(self, token: Token) -> None:
        kind = token.type
        if kind == "bullet_list_open":
            self.lists.append(_List(None))
        elif kind == "ordered_list_open":
            self.lists.append(_List(int(token.attrGet("start") or 1)))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists:
                self.blocks.append("\n".join(self.list_lines))
                self.list_lines = []
        elif kind == "list_item_open":
            self.marker = self._next_marker()
            self.hanging = "  " * (len(self.lists) - 1) + " " * len(self.marker)
        elif kind == "table_open":
            self.rows = []
        elif kind == "tr_open":
            self.cells = []
        elif kind == "tr_close" and self.rows is not None and self.cells is not None:
            self.rows.append(" | ".join(self.cells))
            self.cells = None
        elif kind == "table_close" and self.rows is not None:
            self._emit("\n".join(self.rows))
            self.rows = None
        elif kind == "inline":
            text = _inline_text(token.children or [])
            if self.cells is not None:
                self.cells.append(text.strip())
            else:
                self._emit(text)
        elif kind in ("fence", "code_block"):
            self._emit(token.content.rstrip("\n"))
        elif kind == "html_block":
            self._emit(_strip_tags(token.content).strip())

    def _next_marker(self) -> str:
        current = self.lists[-1]
        if current.number is None:
            return "- "
        current.number += 1
        return f"{current.number - 1}. "

    def _emit(self, text: str) -> None:
        if not self.lists:
            self.blocks.append(text)
            return
        marker, self.marker = self.marker, ""
        # An item's first paragraph follows its marker; the rest hangs under its text.
        lead = "  " * (len(self.lists) - 1) + marker if marker else self.hanging
        lines = text.split("\n")
        self.list_lines.append(lead + lines[0])
        self.list_lines.extend(self.hanging + line for line in lines[1:])


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    links: list[tuple[str, int]] = []  # (href, where the link's text starts in parts)
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "image":
            parts.append(child.content)
        elif kind == "link_open":
            links.append((str(child.attrGet("href") or ""), len(parts)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            label = "".join(parts[start:])
            if href and href not in (label, f"mailto:{label}"):
                parts.append(f" ({href})")
    return "".join(parts)


def _strip_tags(html: str) -> str:
    """The text of an HTML block, its tags dropped."""
    out: list[str] = []
    inside = False
    for char in html:
        if char == "<":
            inside = True
        elif char == ">" and inside:
            inside = False
        elif not inside:
            out.append(char)
    return "".join(out)
