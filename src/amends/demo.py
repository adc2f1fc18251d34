"""Demo data: an organisation with a user of each role and API keys, created once, and three
months of history (demo_history.py) for its reports."""

from __future__ import annotations

import base64
import io
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.apikeys.service import create_api_key
from amends.approvals.service import set_limit
from amends.customers.service import upsert_customer
from amends.db import Database
from amends.delivery.service import save_channel
from amends.incentives.schemas import IncentiveCreate
from amends.incentives.service import create_incentive
from amends.kit.secrets import random_token
from amends.models import ChannelConfig, Organization
from amends.organizations.brand_service import set_logo
from amends.organizations.service import create_organization
from amends.outcomes import service as outcomes
from amends.roles import Role, Scope
from amends.users.service import create_user, hash_password

DEMO_SLUG = "demo"
# Enough months that the oldest cases' outcomes are known (90 days on) and that the commonest
# kinds of case gather the outcomes a learned recommendation needs (`learn_min_outcomes`).
DEFAULT_HISTORY_CASES = 7500
DEFAULT_HISTORY_DAYS = 365
DEMO_PASSWORD = "amends-demo-password"

STAFF = [
    (Role.AGENT, "agent@demo.example", "Alex Agent", "Care team", None),
    (Role.SUPERVISOR, "supervisor@demo.example", "Sam Supervisor", "Care team", None),
    (Role.MANAGER, "manager@demo.example", "Morgan Manager", None, None),
    (Role.ADMIN, "admin@demo.example", "Ada Admin", None, None),
    (Role.AUDITOR, "auditor@demo.example", "Avery Auditor", None, None),
    (Role.CLERK, "clerk@demo.example", "Chris Clerk", "Stores", "Store 12 Lyon"),
]
KEYS = [
    ("Till (POS)", [Scope.REDEMPTIONS_READ, Scope.REDEMPTIONS_WRITE]),
    ("Helpdesk integration", [Scope.COUPONS_ISSUE, Scope.CASES_WRITE, Scope.CUSTOMERS_READ,
                              Scope.CUSTOMERS_WRITE]),
    ("Order events", [Scope.EVENTS_WRITE, Scope.CUSTOMERS_WRITE]),
    ("Reporting", [Scope.REPORTS_READ]),
    ("Admin", [Scope.ADMIN]),
]


_demo_hash: list[str] = []


async def demo_password_hash() -> str:
    """One hash of the demo password for all its accounts (the history's staff too)."""
    if not _demo_hash:
        _demo_hash.append(await hash_password(DEMO_PASSWORD))
    return _demo_hash[0]


@dataclass
class SeededDemo:
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    api_keys: list[tuple[str, str]] = field(default_factory=list)
    cases: int = 0


async def seed_demo(db: Database, *, console: Console | None = None,
                    history_cases: int = DEFAULT_HISTORY_CASES,
                    history_days: int = DEFAULT_HISTORY_DAYS, base_url: str | None = None,
                    smtp_port: int | None = None,
                    seconds: dict[str, float] | None = None,
                    slug: str = DEMO_SLUG) -> SeededDemo | None:
    """Create the demo organisation, then its history; None when it exists already (seeding
    runs once). With `base_url` and `smtp_port` its channels send to the demo's own mail
    catcher and receivers (the outbox), so its first gesture is delivered with no set-up.
    `seconds`, when given, receives how long each phase of the history took (generate, insert,
    refresh). `slug` names another demo organisation beside the first (the browser tests give
    each module its own, on one server)."""
    # Imported here: the history module imports this one (the demo password).
    from amends.demo_history import HISTORY_STAFF, seed_history

    async with db.transaction() as session:
        existing = await session.scalar(select(Organization.id).where(
            Organization.slug == slug))
        if existing is not None:
            # A demo made before it had channels gets the ones it lacks.
            if base_url is not None and smtp_port is not None:
                await seed_channels(session, Actor.system(existing, "demo"), base_url=base_url,
                                    smtp_port=smtp_port)
            return None
        org = await create_organization(session, slug=slug, name="Demo Retail")
        for key, value in BRAND.items():
            setattr(org, key, value)
        await set_logo(session, Actor.system(org.id, "demo"), data=demo_logo(),
                       content_type="image/png")
        actor = Actor.system(org.id, "demo")
        seeded = SeededDemo()
        hashed = await demo_password_hash()
        for role, email, name, team, store in STAFF:
            await create_user(session, actor, organization_id=org.id, email=email, name=name,
                              role=role, password=DEMO_PASSWORD, team=team, store=store,
                              password_hash=hashed)
            seeded.logins.append((role.value, email, DEMO_PASSWORD))
        await seed_catalogue(session, actor)
        if base_url is not None and smtp_port is not None:
            await seed_channels(session, actor, base_url=base_url, smtp_port=smtp_port)
        for key_name, scopes in KEYS:
            created = await create_api_key(session, actor, name=key_name,
                                           scopes=[s.value for s in scopes])
            seeded.api_keys.append((key_name, created.token))
    if console is not None:
        console.print(f"Seeded the demo organisation [bold]{org.name}[/bold].")
    if history_cases:
        started = time.perf_counter()
        seeded.cases = await seed_history(db, organization_id=org.id, days=history_days,
                                          cases=history_cases, console=console,
                                          seconds=seconds)
        refreshed = time.perf_counter()
        # Thousands of rows arrived at once: give the query planner their statistics now
        # rather than when autovacuum gets round to it (without them PostgreSQL plans the
        # reports as if every table held one row).
        async with db.transaction() as session:
            await session.execute(text("ANALYZE"))
        async with db.transaction() as session:
            await outcomes.refresh(session, org.id)
        if seconds is not None:
            seconds["refresh"] = time.perf_counter() - refreshed
        seeded.logins.extend((role.value, email, DEMO_PASSWORD)
                             for role, email, *_ in HISTORY_STAFF)
        if console is not None:
            console.print(f"Seeded {seeded.cases:,} cases of history over the last "
                          f"{history_days} days in {time.perf_counter() - started:.1f} s.")
    return seeded


CATALOGUE = [
    {"name": "Sorry: 10 EUR off", "kind": "amount_off", "value": 1000, "validity_days": 60,
     "reasons": ["late_delivery", "billing_error", "refused_coupon"]},
    {"name": "15% off your next order", "kind": "percent_off", "value": 15,
     "validity_days": 60, "min_order": 2000},
    {"name": "Free shipping for 6 months", "kind": "free_shipping", "value": 495,
     "validity_days": 182, "reasons": ["late_delivery", "lost_parcel"]},
    {"name": "25 EUR gift card", "kind": "gift_card", "value": 2500, "validity_days": 365,
     "reasons": ["lost_parcel", "damaged_item"]},
]
CUSTOMERS = [
    ("C-1001", "Jo Bloggs", "jo@example.com", "+447700900123", "gold", 250_000, "en-GB",
     "Europe/London"),
    ("C-1002", "Sam Patel", "sam@example.com", "+447700900456", "standard", 18_000, "en-GB",
     "Europe/London"),
    ("C-1003", "Ana Lopez", "ana@example.com", None, "platinum", 900_000, "es-ES",
     "Europe/Madrid"),
    ("C-1004", "Zoé Robert", "zoe.robert@example.com", "+33612345678", "gold", 320_000, "fr-FR",
     "Europe/Paris"),
    ("C-1005", "Lukas Gruber", "lukas@example.com", "+436641234567", "standard", 42_000,
     "de-AT", "Europe/Vienna"),
    ("C-1006", "Sanne de Vries", "sanne@example.com", "+31612345678", "standard", 61_000,
     "nl-NL", "Europe/Amsterdam"),
]
# The demo company's brand, in its messages, pages and passes.
BRAND = {"display_name": "Lumière & Co", "sender_name": "Lumière & Co — Service client",
         "sender_email": "care@lumiere.example", "reply_to": "care@lumiere.example",
         "brand_color": "#7a2e3a", "support_email": "care@lumiere.example",
         "support_phone": "+33180000000", "support_url": "https://lumiere.example/aide",
         "time_zone": "Europe/Paris"}


async def seed_catalogue(session: AsyncSession, actor: Actor) -> None:
    """The demo's gestures, customers and the agents' authority."""
    for entry in CATALOGUE:
        await create_incentive(session, actor, data=IncentiveCreate.model_validate(
            {"currency": "EUR", "terms": "One order. Not with other offers.", **entry}))
    for external_id, name, email, phone, tier, lifetime, locale, zone in CUSTOMERS:
        await upsert_customer(session, actor, external_id=external_id, data={
            "name": name, "email": email, "phone": phone, "value_tier": tier,
            "lifetime_value": lifetime, "currency": "EUR", "locale": locale,
            "time_zone": zone})
    await set_limit(session, actor, subject="role:agent", currency="EUR", max_gesture=2000,
                    daily_budget=20_000, monthly_budget=200_000, incentive_ids=None)
    # Supervisors grant up to 50 EUR a gesture; above it (or their budget) a manager does.
    await set_limit(session, actor, subject="role:supervisor", currency="EUR",
                    max_gesture=5000, daily_budget=100_000, monthly_budget=None,
                    incentive_ids=None)


async def seed_channels(session: AsyncSession, actor: Actor, *, base_url: str,
                        smtp_port: int) -> None:
    """Every channel of the demo, pointed at the demo's outbox: e-mail to the mail catcher on
    loopback, SMS and WhatsApp to the Twilio-shaped receiver, the helpdesk to the Zendesk-shaped
    one, chat to the webhook receiver."""
    base = base_url.rstrip("/")
    sms: dict[str, Any] = {"account_sid": "ACdemo", "auth_token": random_token(24),
                           "from_number": "+33700000000", "base_url": f"{base}/demo/sms"}
    channels: dict[str, dict[str, Any]] = {
        "email": {"host": "127.0.0.1", "port": smtp_port, "security": "none",
                  "from_address": f"{BRAND['sender_name']} <{BRAND['sender_email']}>"},
        "sms": sms, "whatsapp": sms,
        "helpdesk": {"base_url": f"{base}/demo/helpdesk", "email": "amends@lumiere.example",
                     "api_token": random_token(24)},
        "webhook": {"url": f"{base}/demo/webhook",
                    "secret": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()},
    }
    configured = set((await session.scalars(select(ChannelConfig.channel).where(
        ChannelConfig.organization_id == actor.organization_id))).all())
    for channel, settings in channels.items():
        if channel in configured:
            continue
        await save_channel(session, actor, channel=channel, settings=settings, active=True,
                           allow_private=True)


def demo_logo() -> bytes:
    """The demo company's logo, drawn here (no picture is kept in the repository): its
    initials on its colour."""
    size = 256
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=48, fill=BRAND["brand_color"])
    font = ImageFont.load_default(size=120)
    draw.text((size / 2, size / 2), "L&", fill="white", font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
