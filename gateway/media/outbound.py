"""URLs an org gives chatgate to send to (webhook endpoints, live-agent platforms), vetted
when they are set as every send vets them again: no private or loopback address unless the
operator allows the host."""

from __future__ import annotations

from gateway.media.attachments import REASONS
from gateway.media.fetch import Fetcher, FetchRefused
from protocol.codes import ErrorCode
from protocol.errors import GatewayError

__all__ = ["vet_url"]


async def vet_url(outbound: Fetcher, url: str, path: str) -> None:
    """Refuse a URL that chatgate would never send to, with the reason. A host that does
    not resolve (yet) is accepted.

    Raises:
        GatewayError: ``validation_error`` with ``details.reason`` (``unsafe_address``,
            ``unresolvable``, ...).
    """
    try:
        await outbound.check(url)
    except FetchRefused as exc:
        if exc.reason == "unresolvable":
            return  # not yet, perhaps: each attempt resolves it again, and retries
        raise GatewayError(
            ErrorCode.VALIDATION_ERROR,
            f"chatgate will not send to this URL: {REASONS.get(exc.reason, exc.reason)}",
            details={"path": path, "reason": exc.reason},
        ) from None
