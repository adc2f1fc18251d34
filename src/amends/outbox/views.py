"""The demo's Outbox page (admins): every message the demo sent, e-mails shown as the customer
sees them, with working links."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from amends.actor import Actor
from amends.auth import require
from amends.errors import NotFound
from amends.outbox.receivers import outbox_of
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
# An e-mail's own HTML, shown in a frame: its inline styles and remote images allowed, no
# script, no form; links open in the page around it (the coupon page, in the demo).
MAIL_POLICY = ("default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")


def _date_of(message: EmailMessage) -> datetime | None:
    try:
        return parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        return None


class MessageNotFound(NotFound):
    code, title = "outbox_message_not_found", "No such message in the outbox"


@router.get("/outbox", response_class=HTMLResponse)
async def outbox_page(request: Request, actor: Admin) -> Response:
    messages = outbox_of(request).latest()
    return render(request, "outbox/page.html", {"messages": messages})


@router.get("/outbox/mail/{key}", response_class=HTMLResponse)
async def mail_page(key: str, request: Request, actor: Admin) -> Response:
    message = outbox_of(request).mail(key)
    if message is None:
        raise MessageNotFound("It may have been removed from the outbox folder.")
    outbox = outbox_of(request)
    return render(request, "outbox/mail.html", {
        "key": key, "subject": str(message.get("Subject", "")),
        "sender": str(message.get("From", "")), "to": str(message.get("To", "")),
        "reply_to": str(message.get("Reply-To", "")),
        "date": _date_of(message), "text": outbox.text_of(message),
        "has_html": outbox.html_of(message) is not None})


@router.get("/outbox/mail/{key}/body")
async def mail_body(key: str, request: Request, actor: Admin) -> Response:
    """The e-mail's HTML part as the customer's mail program would show it."""
    outbox = outbox_of(request)
    message = outbox.mail(key)
    html = outbox.html_of(message) if message is not None else None
    if html is None:
        raise MessageNotFound("This message has no HTML part.")
    base = '<base target="_top">'
    html = (re.sub(r"(<head[^>]*>)", r"\1" + base, html, count=1, flags=re.I)
            if re.search(r"<head[^>]*>", html, flags=re.I) else base + html)
    return HTMLResponse(html, headers={"Content-Security-Policy": MAIL_POLICY})
