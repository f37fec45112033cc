"""Knowledge articles cut into passages, on their Markdown structure, for every backend.

A passage is what a search finds and a bot quotes: a few paragraphs of one section. Headings
(ATX ``#`` lines) always start a new passage and name it; paragraphs (blocks between blank
lines; a fenced code block is one block) are gathered into a passage up to ``MAX_WORDS``
words; a block longer than that is cut at sentence ends, and a sentence longer than that at
word boundaries. The order of passages is the order of the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["MAX_WORDS", "Chunk", "chunk_markdown", "index_rows"]

#: The most words a passage holds (a block is never cut below it).
MAX_WORDS = 200

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage: the headings above it (outermost first, joined by `` / ``), and its text."""

    heading: str
    text: str


def chunk_markdown(body: str) -> list[Chunk]:
    """The passages of a Markdown ``body``; none for a blank one."""
    chunks: list[Chunk] = []
    for heading, blocks in _sections(body):
        pending: list[str] = []
        words = 0
        for block in blocks:
            for piece in _pieces(block):
                size = len(piece.split())
                if pending and words + size > MAX_WORDS:
                    chunks.append(Chunk(heading, "\n\n".join(pending)))
                    pending, words = [], 0
                pending.append(piece)
                words += size
        if pending:
            chunks.append(Chunk(heading, "\n\n".join(pending)))
    return chunks


def index_rows(title: str, body: str) -> list[tuple[int, str, str, str]]:
    """The passages of an article as the stores keep them: ``(position, heading, indexed
    title, text)``, the indexed title being the article's title and the passage's heading."""
    return [
        (position, chunk.heading, f"{title}\n{chunk.heading}".strip(), chunk.text)
        for position, chunk in enumerate(chunk_markdown(body))
    ]


def _sections(body: str) -> Iterator[tuple[str, list[str]]]:
    """``(heading path, blocks)`` for each section, in order; sections without text are left
    out (a heading directly followed by a deeper one)."""
    path: list[tuple[int, str]] = []
    blocks: list[str] = []
    block: list[str] = []
    fence: str | None = None

    def close_block() -> None:
        text = "\n".join(block).strip()
        if text:
            blocks.append(text)
        block.clear()

    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if fence is not None:
            block.append(line)
            if line.strip().startswith(fence):
                fence = None
                close_block()
            continue
        opening = _FENCE.match(line)
        if opening:
            close_block()
            fence = opening.group(1)
            block.append(line)
            continue
        heading = _HEADING.match(line)
        if heading:
            close_block()
            if blocks:
                yield _path_text(path), blocks
                blocks = []
            level = len(heading.group(1))
            path = [(lvl, text) for lvl, text in path if lvl < level]
            title = heading.group(2).strip()
            if title:
                path.append((level, title))
            continue
        if line.strip():
            block.append(line)
        else:
            close_block()
    close_block()
    if blocks:
        yield _path_text(path), blocks


def _path_text(path: list[tuple[int, str]]) -> str:
    return " / ".join(text for _, text in path)


def _pieces(block: str) -> Iterator[str]:
    """The block itself, or, when it holds more than ``MAX_WORDS`` words, its cuts."""
    if len(block.split()) <= MAX_WORDS or _FENCE.match(block):
        yield block
        return
    pending: list[str] = []
    for sentence in _SENTENCE_END.split(block):
        words = sentence.split()
        while len(words) > MAX_WORDS:
            if pending:
                yield " ".join(pending)
                pending = []
            yield " ".join(words[:MAX_WORDS])
            words = words[MAX_WORDS:]
        if pending and len(pending) + len(words) > MAX_WORDS:
            yield " ".join(pending)
            pending = []
        pending.extend(words)
    if pending:
        yield " ".join(pending)
