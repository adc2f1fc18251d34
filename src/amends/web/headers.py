"""What every answer tells the browser about how to treat it: never guess a content type
(`X-Content-Type-Options: nosniff`), and on pages a Content-Security-Policy (only Amends' own
scripts, styles and images; no other site may frame them) and a referrer policy.

A plain ASGI middleware, outermost, so that it also covers the answers other middleware gives
itself (the tills' lane, the request guards, an unforeseen error's 500). On the API's hot path
it appends one constant header and reads the few headers of the answer once."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Who may show a console page in a frame: nobody yet. Helpdesk apps that embed the console
# (Zendesk, Freshdesk ...) will need their origins here, per organisation that installed them.
FRAME_ANCESTORS: tuple[str, ...] = ("'none'",)

# Pages keep their address to this site (where links carry ids, not secrets). A page whose
# address holds a secret (the customer's coupon page) sets `no-referrer` itself.
REFERRER_POLICY = "same-origin"


def content_security_policy(frame_ancestors: Sequence[str] = FRAME_ANCESTORS) -> str:
    """The policy of every page: scripts, styles and images from this origin only (no inline
    script or style, no eval), forms that post only here, and the given framing origins."""
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {' '.join(frame_ancestors)}",
    ))


_NOSNIFF = (b"x-content-type-options", b"nosniff")
_PAGE = (
    (b"content-security-policy", content_security_policy().encode()),
    (b"referrer-policy", REFERRER_POLICY.encode()),
)


def _page_headers(headers: Sequence[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The page headers an answer lacks (a page may set its own, stricter or wider); none
    unless it is an HTML page."""
    if not any(name == b"content-type" and value.startswith(b"text/html")
               for name, value in headers):
        return []
    present = {name for name, _ in headers}
    return [header for header in _PAGE if header[0] not in present]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                message["headers"] = [*headers, _NOSNIFF, *_page_headers(headers)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
