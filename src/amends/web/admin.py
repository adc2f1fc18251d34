"""The admin console's index: every place an admin sets the organisation up, without the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from amends.actor import Actor
from amends.auth import require
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import N_
from amends.web.templating import render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]

# (address, title, what it is for); each page belongs to its feature.
SECTIONS = (
    ("/admin/settings", N_("Organisation settings"),
     N_("Gestures, approvals, messages, languages, time zone and brand, on one page.")),
    ("/admin/channels", N_("Channels"),
     N_("E-mail, SMS, WhatsApp, helpdesk and webhook: set up, test, see the last errors.")),
    ("/admin/templates", N_("Message templates"),
     N_("The wording of every message in every language, with a live preview.")),
    ("/admin/users", N_("Users"),
     N_("Invite people, set their role, team and store, deactivate, reset passwords.")),
    ("/admin/helpdesks", N_("Helpdesk apps"),
     N_("Make amends from the ticket in Zendesk, Freshdesk, Intercom or Gorgias: install, "
        "the addresses to paste, the package to upload, pause.")),
    ("/admin/api-keys", N_("API keys"),
     N_("Keys for tills, helpdesks and order systems: create with scopes, revoke.")),
    ("/admin/shops", N_("Shops"),
     N_("Shopify and WooCommerce: gestures pushed as codes, redemptions back, last errors.")),
    ("/admin/webhooks", N_("Webhooks"),
     N_("Endpoints that receive events, their delivery log, resend, rotate secrets.")),
    ("/admin/audit", N_("Audit log"),
     N_("Who changed what and when, with before and after; CSV export.")),
)


@router.get("/admin", response_class=HTMLResponse)
async def admin_index(request: Request, actor: Admin) -> Response:
    outbox = getattr(request.app.state, "outbox", None) is not None
    return render(request, "admin/index.html", {"sections": SECTIONS, "outbox": outbox})
