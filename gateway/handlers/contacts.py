"""``GET /v1/contacts/{contact_id}``: who a visitor is (name, email), for the staff of the org.

A visitor may read their own contact; any other contact id is ``not_found`` to them, as an
unknown id or another org's is to anyone, so that an id never tells whether it exists.
The bot's token reads no contact (``forbidden``).
"""

from __future__ import annotations

from gateway.core.auth import is_staff
from gateway.core.bus import Context
from gateway.core.results import ContactView
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store

__all__ = ["ContactHandlers"]


class ContactHandlers:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get_contact(self, ctx: Context, c: cmd.GetContact) -> ContactView:
        principal = ctx.require()
        contact_id = str(c.contact_id)
        if principal.is_visitor:
            if principal.contact_id != contact_id:
                raise GatewayError.not_found("contact")
        elif not is_staff(principal):
            raise GatewayError(ErrorCode.FORBIDDEN, "contacts are for staff and their visitor")
        contact = await self._store.get_contact(principal.org_id, contact_id)
        if contact is None:
            raise GatewayError.not_found("contact")
        return ContactView.of(contact)
