"""Names for people of the keys Amends stores (states, statuses, kinds, channels, roles,
the default reasons), in English, marked for the console's catalogue. A page shows a key
through the `words` filter, which translates the name into the reader's language; a key
without a name here (an organisation's own reason) is shown as its words."""

from __future__ import annotations


def N_(message: str) -> str:  # the name Babel extracts by default
    """Marks a message for extraction where it is defined (a table of labels); the page
    translates it where it is shown."""
    return message


LABELS: dict[str, str] = {
    # case steps
    "open": N_("Open"), "apologised": N_("Apologised"), "reviewing": N_("Reviewing"),
    "fixed": N_("Fixed"), "followed_up": N_("Followed up"), "closed": N_("Closed"),
    # the default reasons (an organisation may name its own)
    "late_delivery": N_("Late delivery"), "lost_parcel": N_("Lost parcel"),
    "damaged_item": N_("Damaged item"), "billing_error": N_("Billing error"),
    "refused_coupon": N_("Refused coupon"), "poor_service": N_("Poor service"),
    # gestures
    "percent_off": N_("Percent off"), "amount_off": N_("Amount off"),
    "free_shipping": N_("Free shipping"), "gift_card": N_("Gift card"),
    "free_item": N_("Free item"),
    # channels
    "email": N_("E-mail"), "sms": N_("SMS"), "whatsapp": N_("WhatsApp"), "chat": N_("Chat"),
    "phone": N_("Phone"), "social": N_("Social media"), "in_store": N_("In store"),
    "helpdesk": N_("Helpdesk"), "webhook": N_("Webhook"), "copy": N_("Copied by the agent"),
    "online": N_("Online"), "preferred": N_("Each customer's own"),
    # statuses of coupons, messages, approvals, incidents
    "active": N_("Active"), "reserved": N_("Reserved"), "redeemed": N_("Used"),
    "expired": N_("Expired"), "revoked": N_("Withdrawn"), "withdrawn": N_("Withdrawn"),
    "queued": N_("Queued"), "sent": N_("Sent"), "delivered": N_("Delivered"),
    "failed": N_("Failed"), "bounced": N_("Bounced"), "suppressed": N_("Not sent (opted out)"),
    "pending": N_("Pending"), "granted": N_("Granted"), "refused": N_("Refused"),
    "draft": N_("Draft"), "running": N_("Running"), "paused": N_("Paused"),
    "completed": N_("Completed"), "cancelled": N_("Cancelled"), "on": N_("On"), "off": N_("Off"),
    # messages
    "apology": N_("Apology"), "gesture": N_("Gesture"), "progress": N_("Progress"),
    "reminder": N_("Reminder"), "feedback_request": N_("Feedback request"),
    "thank_you": N_("Thank-you"), "incident_apology": N_("Incident apology"),
    "reinstated": N_("Reinstatement"), "reinstatement": N_("Reinstatement"),
    "coupon_issued": N_("Gesture"),
    # orders, parcels, redemptions
    "placed": N_("Placed"), "in_transit": N_("In transit"),
    "out_for_delivery": N_("Out for delivery"), "exception": N_("Carrier exception"),
    "returned": N_("Returned"), "refunded": N_("Refunded"), "voided": N_("Voided"),
    "held": N_("Held"), "released": N_("Released"), "confirmed": N_("Confirmed"),
    # what a customer's timeline shows
    "order": N_("Order"), "shipment": N_("Parcel"), "case": N_("Case"),
    "feedback": N_("Feedback"), "coupon": N_("Gesture"), "message": N_("Message"),
    "redemption": N_("Redemption"),
    # roles and tiers
    "agent": N_("Agent"), "supervisor": N_("Supervisor"), "manager": N_("Manager"),
    "admin": N_("Administrator"), "auditor": N_("Auditor"), "clerk": N_("Clerk"),
    "standard": N_("Standard"), "vip": N_("VIP"), "gold": N_("Gold"), "silver": N_("Silver"),
    # groupings of the dashboard
    "reason": N_("Reason"), "team": N_("Team"), "store": N_("Store"),
    "channel": N_("Channel"),
}


# The titles of the errors a console page may show (the detail comes from the service).
ERROR_TITLES = (N_("Not found"), N_("Not allowed"), N_("The form has expired; reload the page"),
                N_("The request is not valid"), N_("Conflict"), N_("Authentication required"),
                N_("Too many attempts"))


# A channel inside a sentence ("sent again by e-mail", "via chat"): common nouns in lower case,
# names (SMS, WhatsApp) as they are.
IN_SENTENCE: dict[str, str] = {
    "email": N_("e-mail"), "chat": N_("chat"), "phone": N_("phone"),
    "social": N_("social media"), "in_store": N_("in store"), "online": N_("online"),
}


def in_sentence(key: str | None) -> str:
    """The English name of a channel as it reads inside a sentence: 'email' -> 'e-mail'."""
    return IN_SENTENCE.get(key or "") or label(key)


def label(key: str | None) -> str:
    """The English name of a stored key: 'late_delivery' -> 'Late delivery'."""
    if not key:
        return "—"
    return LABELS.get(key) or key.replace("_", " ").capitalize()
