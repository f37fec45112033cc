"""The chatgate wire protocol: frames, commands, events, error codes and codecs.

This package is pure: it never touches a socket, a database or the clock, and it imports
neither starlette nor redis nor any asyncio I/O. Both ``storage`` and ``gateway`` build on it.
"""

from __future__ import annotations

__all__: list[str] = []
