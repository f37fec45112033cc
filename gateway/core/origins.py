"""Which browser origins may use a widget, read for the HTTP transport (CORS, ``http.cors``).

Read from the store on every call, without a cache: a change of a widget's
``allowed_origins`` applies to the next request on every process. The socket endpoint makes
the same check once per connection, at ``hello``.
"""

from __future__ import annotations

import uuid

from gateway.core.auth import origin_allowed
from storage.base import Store

__all__ = ["WidgetOrigins"]


class WidgetOrigins:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def allows(
        self, widget_id: str, origin: str | None, *, org_id: str | None = None
    ) -> bool | None:
        """Whether the widget allows ``origin`` (``core.auth.origin_allowed``).

        Returns:
            None when there is no such widget (in ``org_id``, when given), or ``widget_id``
            is no widget id at all (a malformed path).

        Raises:
            StorageError: the store cannot be read.
        """
        try:
            uuid.UUID(widget_id)
        except ValueError:
            return None
        widget = await self._store.get_widget(org_id, widget_id)
        if widget is None:
            return None
        return origin_allowed(origin, widget.allowed_origins)
