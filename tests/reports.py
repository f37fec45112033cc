"""What a run measured and prints at its end, by section (never asserted: timings belong in
bench/). ``make test`` runs the suite on pytest-xdist workers, whose own terminal summaries
nobody sees: each worker hands its sections to the controller, which prints them all
(the hooks are in tests/conftest.py)."""

from __future__ import annotations

__all__ = ["SECTIONS", "merge", "section"]

#: Section title -> lines (name -> value), in the order they were first written.
SECTIONS: dict[str, dict[str, str]] = {}


def section(title: str) -> dict[str, str]:
    """The lines of section ``title``, to add to."""
    return SECTIONS.setdefault(title, {})


def merge(sections: dict[str, dict[str, str]]) -> None:
    """Add a worker's sections to this process's."""
    for title, lines in sections.items():
        section(title).update(lines)
