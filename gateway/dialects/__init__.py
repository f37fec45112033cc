"""Vendor dialects: the "send a message into a conversation" APIs of hosted chat products,
spoken exactly, as thin translators over the native command bus.

Each dialect turns a vendor request into the same command a native request would be, dispatches
it, and renders the result and every ``GatewayError`` in the vendor's shapes, from one table of
codes per dialect. No dialect decides anything the native API does not. See docs/dialects.md.
"""

from __future__ import annotations

from starlette.routing import Route

from gateway.dialects import awardee, bland, pingback

__all__ = ["dialect_routes"]


def dialect_routes() -> list[Route]:
    return [*bland.routes(), *pingback.routes(), *awardee.routes()]
