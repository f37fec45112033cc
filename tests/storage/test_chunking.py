"""Articles cut into passages on their Markdown structure (``storage.chunking``)."""

from __future__ import annotations

from storage.chunking import MAX_WORDS, Chunk, chunk_markdown, index_rows


def test_chunk_markdown_starts_a_passage_at_each_heading() -> None:
    """Each section is its own passage, named by the headings above it."""
    body = "Intro text.\n\n# Billing\n\nPay by card.\n\n## Refunds\n\nWithin 30 days.\n"
    assert chunk_markdown(body) == [
        Chunk("", "Intro text."),
        Chunk("Billing", "Pay by card."),
        Chunk("Billing / Refunds", "Within 30 days."),
    ]


def test_chunk_markdown_gathers_paragraphs_up_to_the_word_bound() -> None:
    """Short paragraphs of a section share a passage until it would pass MAX_WORDS."""
    paragraph = " ".join(["word"] * (MAX_WORDS // 3))
    chunks = chunk_markdown("\n\n".join([paragraph] * 4))
    assert [c.text.count("\n\n") + 1 for c in chunks] == [3, 1]
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)


def test_chunk_markdown_cuts_a_long_paragraph_at_sentence_ends() -> None:
    """A paragraph longer than MAX_WORDS is cut between sentences, nothing lost."""
    sentence = " ".join(["alpha"] * 24) + " omega."  # 25 words, 8 to a passage
    paragraph = " ".join([sentence] * 24)  # 600 words
    chunks = chunk_markdown(paragraph)
    assert len(chunks) == 3
    assert all(c.text.endswith("omega.") for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == 600


def test_chunk_markdown_keeps_a_fenced_block_whole() -> None:
    """Blank lines and '#' lines inside a code fence neither cut it nor make headings."""
    body = "# Setup\n\n```sh\n# install\n\nmake install\n```\n\nDone."
    assert chunk_markdown(body) == [
        Chunk("Setup", "```sh\n# install\n\nmake install\n```\n\nDone."),
    ]


def test_index_rows_give_the_index_the_title_and_heading() -> None:
    """Each row holds its position, heading, the indexed title and the text."""
    assert index_rows("Help", "# A\n\nOne.\n\n# B\n\nTwo.") == [
        (0, "A", "Help\nA", "One."),
        (1, "B", "Help\nB", "Two."),
    ]
    assert chunk_markdown("  \n\n# Only a heading\n") == []
