"""LiveChatAI's ``responseFormat: PLAIN``: a Markdown answer as the text a plain chat shows."""

from __future__ import annotations

import pytest

from gateway.dialects.plaintext import markdown_to_text

CASES = [
    (
        "Our **business hours** are *Monday* to _Friday_.",
        "Our business hours are Monday to Friday.",
    ),
    (
        "# Shipping\n\nWe ship in **2 days**.\n\nSee [the docs](https://example.com/ship).",
        "Shipping\n\nWe ship in 2 days.\n\nSee the docs (https://example.com/ship).",
    ),
    (
        "Write to <https://help.example> or <ops@example.com>.",
        "Write to https://help.example or ops@example.com.",
    ),
    (
        "- one\n- two\n  - nested **bold**\n- three\n\nAfter.",
        "- one\n- two\n  - nested bold\n- three\n\nAfter.",
    ),
    (
        "1. first\n2. second\n\n   more of it\n3. third",
        "1. first\n2. second\n   more of it\n3. third",
    ),
    ("3. starts at three\n4. four", "3. starts at three\n4. four"),
    ("```python\nprint('hi')\n\nx = 1\n```", "print('hi')\n\nx = 1"),
    ("    indented code", "indented code"),
    ("> quoted *text*\n\n---\n\nend", "quoted text\n\nend"),
    ("| a | b |\n|---|---|\n| 1 | **2** |", "a | b\n1 | 2"),
    ("line one  \nline two\nthree", "line one\nline two\nthree"),
    (
        "![a cat](https://x.example/cat.png), `code`, ~~gone~~, <b>bold</b>",
        "a cat, code, gone, bold",
    ),
    ("<div>a <i>block</i></div>", "a block"),
    ("Tom &amp; Jerry", "Tom & Jerry"),
    ("no markdown at all", "no markdown at all"),
    ("", ""),
]


@pytest.mark.parametrize(("markdown", "text"), CASES)
def test_markdown_reduced_to_text(markdown: str, text: str) -> None:
    """Markup is gone, the words, list markers, link targets and line breaks stay."""
    assert markdown_to_text(markdown) == text
