"""The demo's stand-ins for the providers Amends sends through, answering in their shapes, so
the demo's SMS, WhatsApp, helpdesk and webhook channels work with no account anywhere. They
answer 404 unless the demo outbox is on (`AMENDS_DEMO_OUTBOX`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import JSONResponse, Response

from amends.errors import NotFound
from amends.kit.ids import new_id
from amends.outbox.store import Outbox
from amends.routing import router as make_router

router = make_router(include_in_schema=False)


class OutboxOff(NotFound):
    code, title = "demo_outbox_off", "The demo outbox is not on"


def outbox_of(request: Request) -> Outbox:
    outbox: Outbox | None = getattr(request.app.state, "outbox", None)
    if outbox is None:
        raise OutboxOff("Run `amends demo` (or set AMENDS_DEMO_OUTBOX) to use the demo's "
                        "receivers.")
    return outbox


@router.post("/demo/sms/2010-04-01/Accounts/{account_sid}/Messages.json", status_code=201)
async def twilio_message(request: Request, account_sid: str,
                         to: Annotated[str, Form(alias="To", max_length=400)],
                         sender: Annotated[str, Form(alias="From", max_length=400)],
                         body: Annotated[str, Form(alias="Body", max_length=10_000)]
                         ) -> dict[str, Any]:
    """Twilio's Messages resource, as the SMS and WhatsApp channels post to it
    (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource)."""
    outbox = outbox_of(request)
    channel = "whatsapp" if to.startswith("whatsapp:") else "sms"
    outbox.keep_message(channel=channel, to=to.removeprefix("whatsapp:"),
                        sender=sender.removeprefix("whatsapp:"), text=body,
                        detail={"account_sid": account_sid})
    return {"sid": f"SM{new_id().hex}", "status": "queued", "to": to, "from": sender,
            "body": body, "account_sid": account_sid}


@router.put("/demo/helpdesk/api/v2/tickets/{ticket_id}.json")
async def zendesk_comment(request: Request, ticket_id: str) -> Response:
    """A comment on a Zendesk ticket (https://developer.zendesk.com/api-reference/ticketing/
    tickets/tickets/#update-ticket): the answer carries the ticket and the audit."""
    outbox = outbox_of(request)
    try:
        comment = (await request.json())["ticket"]["comment"]
        text = str(comment["body"])
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "RecordInvalid"}, status_code=422)
    outbox.keep_message(channel="helpdesk", to=f"ticket {ticket_id}", sender="Amends",
                        text=text, detail={"public": bool(comment.get("public", True))})
    audit = int(new_id().int % 10**12)
    return JSONResponse({"ticket": {"id": ticket_id}, "audit": {"id": audit}})


@router.post("/demo/webhook")
async def webhook(request: Request) -> Response:
    """The organisation's chat or social platform, receiving Standard Webhooks events."""
    outbox = outbox_of(request)
    try:
        event = json.loads(await request.body())
        data = event["data"]
        outbox.keep_message(channel="webhook", to=str(data.get("to", "")),
                            sender="Amends", text=str(data.get("text", "")),
                            detail={"webhook-id": request.headers.get("webhook-id", "")})
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "not a message.send event"}, status_code=400)
    return Response(status_code=204)
