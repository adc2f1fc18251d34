"""The helpdesk apps' use cases: installations (secrets write-only), the agent behind a
helpdesk's signed request, the panel opened from a ticket, the one click that opens or reuses
the ticket's case, gives the gesture and posts the apology into the ticket, and ticket events
that open and fix cases."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.approvals import service as approvals
from amends.audit import service as audit
from amends.cases import policy as case_policy
from amends.cases import service as cases
from amends.customers import service as customers
from amends.delivery import service as delivery
from amends.errors import Conflict, Forbidden, NotAuthenticated, NotFound, ValidationFailed
from amends.helpdesk.platforms import PLATFORM_NAMES, PLATFORMS, Platform, Requester, Ticket
from amends.helpdesk.platforms import ticket_id_of as ticket_id_of
from amends.helpdesk.platforms import ticket_ref as ticket_ref
from amends.helpdesk.schemas import ACCOUNT_PATTERN
from amends.kit import outbound
from amends.kit.clock import utcnow
from amends.kit.secrets import checked_secrets, digest, same, tenant_token, token_tenant
from amends.kit.sql import insert_new
from amends.models import (
    Case,
    Coupon,
    Customer,
    Delivery,
    HelpdeskInstallation,
    HelpdeskPanel,
    HelpdeskReplay,
    Incentive,
    Organization,
    User,
)
from amends.roles import Role

# How long a panel opened from a ticket keeps working without the helpdesk signing it again
# (the helpdesk reloads the panel with a fresh signed request each time the ticket is opened).
PANEL_HOURS = 8
# A ticket's tag that opens a case, and the reason it means, unless the installation maps its
# own tags (`tag_reasons`).
DEFAULT_TAG_REASONS = {
    "amends-late": "late_delivery", "amends-lost": "lost_parcel",
    "amends-damaged": "damaged_item", "amends-billing": "billing_error",
    "amends-coupon": "refused_coupon", "amends-service": "poor_service",
}
REPLY_AS = ("public", "note")
# A case's severity, as `POST /v1/cases` takes it.
SEVERITIES = (1, 2, 3, 4)
SETTINGS = ("reply_as", "tag_reasons", "frame_origins", "default_reason")
_ORIGIN = re.compile(r"^https?://(\*\.)?[a-z0-9.-]+(:\d{1,5})?$")
# A step a solved ticket skips, in the case's own words.
SOLVED_SKIP_REASON = "solved in the helpdesk"


class InstallationNotFound(NotFound):
    code, title = "helpdesk_installation_not_found", "No such helpdesk installation"


class UnknownPlatform(ValidationFailed):
    code, title = "unknown_helpdesk_platform", "Not a helpdesk Amends can be installed in"


class InvalidInstallationSettings(ValidationFailed):
    code, title = "invalid_helpdesk_settings", "The installation's settings are not valid"


class InstallationExists(Conflict):
    code, title = "helpdesk_installation_exists", "That helpdesk account is installed already"


class SignatureRefused(NotAuthenticated):
    """The helpdesk's signed request is missing, forged, expired or used before."""

    code, title = "helpdesk_signature_refused", "The helpdesk's signature is not valid"


class AgentNotMapped(Forbidden):
    code, title = "helpdesk_agent_unknown", "No Amends user for this helpdesk agent"


class PanelExpired(NotAuthenticated):
    code, title = "helpdesk_panel_expired", "The panel has expired; reopen the ticket"


class RequesterUnknown(ValidationFailed):
    code, title = "helpdesk_requester_unknown", "The ticket names no customer Amends can use"


def platform_of(name: str) -> Platform:
    found = PLATFORMS.get(name)
    if found is None:
        raise UnknownPlatform(f"Use one of: {', '.join(sorted(PLATFORMS) or PLATFORM_NAMES)}.")
    return found


# --- installations -------------------------------------------------------------------------

def public(installation: HelpdeskInstallation) -> dict[str, Any]:
    """An installation as the API and the admin page show it: its secrets only by name."""
    return {
        "id": str(installation.id), "platform": installation.platform,
        "account": installation.account, "name": installation.name,
        "active": installation.active, "settings": effective_settings(installation),
        "secrets_set": sorted(k for k, v in installation.secrets.items() if v),
        "created_at": installation.created_at, "updated_at": installation.updated_at,
    }


def effective_settings(installation: HelpdeskInstallation) -> dict[str, Any]:
    given = installation.settings
    return {
        "reply_as": given.get("reply_as", "public"),
        "tag_reasons": given.get("tag_reasons") or dict(DEFAULT_TAG_REASONS),
        "frame_origins": list(given.get("frame_origins") or []),
        "default_reason": given.get("default_reason"),
    }


async def _checked_settings(session: AsyncSession, organization_id: uuid.UUID,
                            given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise InvalidInstallationSettings(f"Unknown settings: {', '.join(unknown)}.")
    out: dict[str, Any] = {}
    known = await cases.reasons(session, organization_id)
    if given.get("reply_as") is not None:
        if given["reply_as"] not in REPLY_AS:
            raise InvalidInstallationSettings("reply_as is 'public' (a reply the customer "
                                              "sees) or 'note' (an internal note).")
        out["reply_as"] = given["reply_as"]
    if given.get("tag_reasons") is not None:
        tags = given["tag_reasons"]
        if not isinstance(tags, Mapping) or len(tags) > 100 or not all(
                isinstance(k, str) and 0 < len(k) <= 100 and isinstance(v, str)
                for k, v in tags.items()):
            raise InvalidInstallationSettings("tag_reasons maps up to 100 tags to reasons.")
        wrong = sorted(v for v in tags.values() if v not in known)
        if wrong:
            raise InvalidInstallationSettings(
                f"Unknown reasons {', '.join(wrong)}; use one of: {', '.join(sorted(known))}.")
        out["tag_reasons"] = {k.strip().lower(): v for k, v in tags.items()}
    if given.get("frame_origins") is not None:
        origins = given["frame_origins"]
        if not isinstance(origins, list) or len(origins) > 20 or not all(
                isinstance(o, str) and _ORIGIN.match(o.lower()) for o in origins):
            raise InvalidInstallationSettings(
                "frame_origins lists up to 20 origins such as https://help.example.com.")
        out["frame_origins"] = [o.lower() for o in origins]
    if given.get("default_reason") == "":  # none: a ticket without a mapped tag opens nothing
        out["default_reason"] = None
    elif given.get("default_reason") is not None:
        if given["default_reason"] not in known:
            raise InvalidInstallationSettings(
                f"Use one of: {', '.join(sorted(known))} as default_reason.")
        out["default_reason"] = given["default_reason"]
    return out


def _checked_secrets(platform: Platform, given: Mapping[str, Any]) -> dict[str, str]:
    return checked_secrets(given, allowed=platform.secrets, owner=platform.title, most=10_000,
                           refused=InvalidInstallationSettings)


async def _checked_peers(platform: Platform, secrets: dict[str, str]) -> dict[str, str]:
    """A secret that names an address Amends calls is refused (422) when the outbound address
    policy in force would not let Amends connect to it."""
    for name in platform.peers:
        if secrets.get(name):
            await outbound.check_url(secrets[name], field=f"secrets.{name}",
                                     allow_private=outbound.allows_private())
    return secrets


async def create_installation(session: AsyncSession, actor: Actor, *, platform: str,
                              account: str, name: str, settings: Mapping[str, Any],
                              secrets: Mapping[str, Any]) -> HelpdeskInstallation:
    found = platform_of(platform)
    if not re.fullmatch(ACCOUNT_PATTERN, account.strip()) or len(account.strip()) > 200:
        raise InvalidInstallationSettings(
            f"The {found.title} account is a subdomain, a domain or a workspace id: letters, "
            "digits, dots, hyphens and underscores.")
    checked = await _checked_settings(session, actor.organization_id, settings)
    hidden = await _checked_peers(found, _checked_secrets(found, secrets))
    missing = [s for s in found.required if not hidden.get(s)]
    if missing:
        raise InvalidInstallationSettings(
            f"{found.title} needs {', '.join(missing)} to check its requests.")
    installation = await insert_new(
        session, HelpdeskInstallation,
        key={"organization_id": actor.organization_id, "platform": platform,
             "account": account.strip().lower()},
        values={"id": uuid.uuid4(), "name": name.strip() or found.title, "active": True,
                "settings": checked, "secrets": hidden})
    if installation is None:
        raise InstallationExists(f"{found.title} account {account!r} is installed already.")
    await audit.record(session, actor, action="helpdesk.installed", object_type="helpdesk",
                       object_id=installation.id,
                       after={k: v for k, v in public(installation).items()
                              if k in ("platform", "account", "name", "secrets_set")})
    return installation


async def update_installation(session: AsyncSession, actor: Actor, *,
                              installation_id: uuid.UUID, name: str | None = None,
                              active: bool | None = None,
                              settings: Mapping[str, Any] | None = None,
                              secrets: Mapping[str, Any] | None = None
                              ) -> HelpdeskInstallation:
    """Change what is given; a secret left out (or null) keeps its value, an empty one is
    refused (remove the installation instead)."""
    installation = await get_installation(session, actor, installation_id=installation_id)
    before = public(installation)
    if name is not None:
        installation.name = name.strip() or installation.name
    if active is not None:
        installation.active = active
    if settings is not None:
        installation.settings = {**installation.settings,
                                 **await _checked_settings(session, actor.organization_id,
                                                           settings)}
    if secrets is not None:
        platform = platform_of(installation.platform)
        installation.secrets = {**installation.secrets, **await _checked_peers(
            platform, _checked_secrets(platform, secrets))}
    installation.updated_at = utcnow()
    await session.flush()
    after = public(installation)
    changed = [k for k in ("name", "active", "settings", "secrets_set") if before[k] != after[k]]
    await audit.record(session, actor, action="helpdesk.updated", object_type="helpdesk",
                       object_id=installation.id, before={k: before[k] for k in changed},
                       after={k: after[k] for k in changed})
    return installation


async def remove_installation(session: AsyncSession, actor: Actor, *,
                              installation_id: uuid.UUID) -> None:
    installation = await get_installation(session, actor, installation_id=installation_id)
    await session.delete(installation)
    await session.flush()
    await audit.record(session, actor, action="helpdesk.removed", object_type="helpdesk",
                       object_id=installation_id,
                       before={"platform": installation.platform,
                               "account": installation.account})


async def list_installations(session: AsyncSession, actor: Actor
                             ) -> list[HelpdeskInstallation]:
    return list((await session.scalars(select(HelpdeskInstallation).where(
        HelpdeskInstallation.organization_id == actor.organization_id)
        .order_by(HelpdeskInstallation.platform, HelpdeskInstallation.created_at))).all())


async def get_installation(session: AsyncSession, actor: Actor, *,
                           installation_id: uuid.UUID) -> HelpdeskInstallation:
    found = await session.get(HelpdeskInstallation, (actor.organization_id, installation_id))
    if found is None:
        raise InstallationNotFound(f"No helpdesk installation {installation_id}.")
    return found


async def installation_for(session: AsyncSession, *, organization: str,
                           installation_id: uuid.UUID, platform: str
                           ) -> HelpdeskInstallation:
    """The active installation a helpdesk's request names (the organisation's slug and the
    installation's id are in the URL the package was made with), of that platform."""
    organization_id = await session.scalar(select(Organization.id).where(
        Organization.slug == organization))
    found = (await session.get(HelpdeskInstallation, (organization_id, installation_id))
             if organization_id is not None else None)
    if found is None or found.platform != platform or not found.active:
        raise InstallationNotFound("No active installation of this app: ask your Amends "
                                   "administrator to install it again.")
    return found


def urls(base_url: str, organization_slug: str, installation: HelpdeskInstallation
         ) -> dict[str, str]:
    """Where the helpdesk reaches this installation, under
    `/helpdesk/{organisation}/{installation}/{platform}`: `panel` (the sidebar's address),
    `events` (ticket webhooks) and, for Intercom, `initialize` and `submit` (Canvas Kit)."""
    root = (f"{base_url.rstrip('/')}/helpdesk/{organization_slug}/{installation.id}/"
            f"{installation.platform}")
    if installation.platform == "intercom":
        return {"initialize": f"{root}/initialize", "submit": f"{root}/submit",
                "events": f"{root}/events"}
    return {"panel": root, "events": f"{root}/events"}


def settings_of(installation: HelpdeskInstallation) -> dict[str, Any]:
    """Settings and secrets in one dict, as a platform's client reads them."""
    return {**effective_settings(installation), **installation.secrets,
            "platform": installation.platform, "account": installation.account}


def secret_of(installation: HelpdeskInstallation, name: str) -> str:
    value = installation.secrets.get(name)
    if not value:
        raise SignatureRefused(f"The installation has no {name} to check this request with.")
    return str(value)


def frame_ancestors(installation: HelpdeskInstallation) -> tuple[str, ...]:
    """The origins that may frame the panel: the platform's and the installation's own."""
    platform = PLATFORMS.get(installation.platform)
    return (*(platform.frame_origins if platform else ()),
            *effective_settings(installation)["frame_origins"])


# --- signed requests ------------------------------------------------------------------------

async def first_use(session: AsyncSession, installation: HelpdeskInstallation, *,
                    token_id: str, until: datetime) -> None:
    """Remember a signed request (its token id, or its signature) until it would expire
    anyway; a second use is refused. One INSERT ... ON CONFLICT DO NOTHING: of two identical
    requests at once, one passes."""
    now = utcnow()
    await session.execute(delete(HelpdeskReplay).where(
        HelpdeskReplay.organization_id == installation.organization_id,
        HelpdeskReplay.expires_at < now - timedelta(minutes=5)))
    remembered = await insert_new(
        session, HelpdeskReplay,
        key={"organization_id": installation.organization_id,
             "digest": digest(f"{installation.id}:{token_id}")},
        values={"id": uuid.uuid4(), "expires_at": until})
    if remembered is None:
        raise SignatureRefused("This signed request was used before.")


def check_secret(given: str | None, installation: HelpdeskInstallation, name: str) -> None:
    """A shared secret the helpdesk sends (a header set in its app or integration)."""
    if not given or not same(given, secret_of(installation, name)):
        raise SignatureRefused("The request does not carry this installation's secret.")


async def agent(session: AsyncSession, installation: HelpdeskInstallation, email: str | None
                ) -> tuple[Actor, User]:
    """The Amends user the helpdesk's agent is, by e-mail, in the installation's organisation
    only: an agent without one gets no one else's authority."""
    address = (email or "").strip().lower()
    user = await session.scalar(select(User).where(
        User.organization_id == installation.organization_id,
        func.lower(User.email) == address)) if address else None
    if user is None or not user.active:
        raise AgentNotMapped(
            f"{address or 'This agent'} has no Amends user in this organisation: ask an "
            "Amends administrator to invite you with the e-mail address you use in the "
            "helpdesk.")
    return Actor.for_user(organization_id=user.organization_id, user_id=user.id,
                          email=user.email, role=Role(user.role)), user


# --- the panel ------------------------------------------------------------------------------

async def open_panel(session: AsyncSession, installation: HelpdeskInstallation, user: User,
                     ticket: Ticket) -> str:
    """A panel for this agent and ticket; returns its token (only its digest is stored)."""
    token = tenant_token(installation.organization_id, 32)
    now = utcnow()
    await session.execute(delete(HelpdeskPanel).where(
        HelpdeskPanel.organization_id == installation.organization_id,
        HelpdeskPanel.user_id == user.id, HelpdeskPanel.expires_at < now))
    session.add(HelpdeskPanel(organization_id=installation.organization_id,
                              installation_id=installation.id, user_id=user.id,
                              token_hash=digest(token), ticket=ticket.to_json(),
                              expires_at=now + timedelta(hours=PANEL_HOURS)))
    await session.flush()
    return token


# How long the one-use link to a panel (`open_panel_code`) may wait to be opened: the helpdesk's
# app frames it as soon as Amends answers.
PANEL_CODE_SECONDS = 120


async def open_panel_code(session: AsyncSession, installation: HelpdeskInstallation,
                          user: User, ticket: Ticket) -> str:
    """A panel for this agent and ticket reached once through a short-lived code, for a
    helpdesk app that frames an address Amends answers it (Freshdesk): the code may show in
    a log or a history, so it is not the panel's token but is exchanged once for one
    (`start_panel`); only a digest of it is stored, which no panel token can match."""
    code = tenant_token(installation.organization_id, 32)
    session.add(HelpdeskPanel(organization_id=installation.organization_id,
                              installation_id=installation.id, user_id=user.id,
                              token_hash=digest(f"code:{code}"), ticket=ticket.to_json(),
                              expires_at=utcnow() + timedelta(seconds=PANEL_CODE_SECONDS)))
    await session.flush()
    return code


async def start_panel(session: AsyncSession, code: str) -> str:
    """The panel's token for its one-use code: one conditional UPDATE swaps the code's digest
    for a new token's, so of two requests with the same code one gets a panel."""
    organization_id = token_tenant(code)
    if organization_id is None:
        raise PanelExpired("This link to the panel is not valid: open the ticket again.")
    token = tenant_token(organization_id, 32)
    now = utcnow()
    started = (await session.execute(
        update(HelpdeskPanel)
        .where(HelpdeskPanel.organization_id == organization_id,
               HelpdeskPanel.token_hash == digest(f"code:{code}"),
               HelpdeskPanel.expires_at > now)
        .values(token_hash=digest(token), expires_at=now + timedelta(hours=PANEL_HOURS))
        .returning(HelpdeskPanel.id)
        .execution_options(synchronize_session=False))).first()
    if started is None:
        raise PanelExpired("This link to the panel was used already or has expired: open "
                           "the ticket again.")
    return token


async def bind_ticket(session: AsyncSession, token: str, ticket: Ticket) -> None:
    """The ticket of a panel opened before its ticket was known (the helpdesk's script in the
    page names it once): set once, never changed to another ticket."""
    organization_id = token_tenant(token)
    panel = await session.scalar(select(HelpdeskPanel).where(
        HelpdeskPanel.organization_id == organization_id,
        HelpdeskPanel.token_hash == digest(token),
        HelpdeskPanel.expires_at > utcnow()).with_for_update()) if organization_id else None
    if panel is None:
        raise PanelExpired("This panel has expired: open the ticket again.")
    if panel.ticket.get("id") and str(panel.ticket["id"]) != ticket.id:
        raise Conflict("This panel belongs to another ticket: open the ticket again.")
    panel.ticket = ticket.to_json()
    await session.flush()


@dataclass(frozen=True, slots=True)
class Panel:
    actor: Actor
    user: User
    installation: HelpdeskInstallation
    ticket: Ticket
    organization: Organization


async def panel_for(session: AsyncSession, token: str | None) -> Panel:
    organization_id = token_tenant(token or "")
    row = (await session.execute(
        select(HelpdeskPanel, User, HelpdeskInstallation, Organization)
        .join(User, and_(User.organization_id == HelpdeskPanel.organization_id,
                         User.id == HelpdeskPanel.user_id))
        .join(HelpdeskInstallation, and_(
            HelpdeskInstallation.organization_id == HelpdeskPanel.organization_id,
            HelpdeskInstallation.id == HelpdeskPanel.installation_id))
        .join(Organization, Organization.id == HelpdeskPanel.organization_id)
        .where(HelpdeskPanel.organization_id == organization_id,
               HelpdeskPanel.token_hash == digest(token or ""),
               HelpdeskPanel.expires_at > utcnow(), User.active.is_(True),
               HelpdeskInstallation.active.is_(True)))).first() if organization_id else None
    if row is None:
        raise PanelExpired("This panel has expired: open the ticket again.")
    panel, user, installation, organization = row
    actor = Actor.for_user(organization_id=user.organization_id, user_id=user.id,
                           email=user.email, role=Role(user.role))
    return Panel(actor=actor, user=user, installation=installation,
                 ticket=Ticket.from_json(panel.ticket), organization=organization)


async def match_customer(session: AsyncSession, actor: Actor, requester: Requester
                         ) -> Customer | None:
    """The ticket's requester as an Amends customer: by external id, then e-mail, then phone
    (in any format the organisation's countries write it)."""
    organization_id = actor.organization_id
    if requester.external_id:
        found = await session.scalar(select(Customer).where(
            Customer.organization_id == organization_id,
            Customer.external_id == requester.external_id.strip()[:100]))
        if found is not None:
            return found
    if requester.email:
        found = (await session.scalars(select(Customer).where(
            Customer.organization_id == organization_id,
            Customer.email == requester.email.strip().lower()[:320])
            .order_by(Customer.created_at).limit(1))).first()
        if found is not None:
            return found
    if requester.phone:
        numbers = await customers.phone_candidates(session, actor, requester.phone)
        if numbers:
            found = (await session.scalars(select(Customer).where(
                Customer.organization_id == organization_id, Customer.phone.in_(numbers))
                .order_by(Customer.created_at).limit(1))).first()
            if found is not None:
                return found
    return None


async def customer_from_requester(session: AsyncSession, actor: Actor, requester: Requester
                                  ) -> Customer:
    """The requester made an Amends customer (the agent confirmed it): their helpdesk id, or
    their e-mail address, is the customer's id."""
    existing = await match_customer(session, actor, requester)
    if existing is not None:
        return existing
    external_id = (requester.external_id or requester.email or requester.phone or "").strip()
    if not external_id:
        raise RequesterUnknown("The ticket's requester has no id, e-mail address or phone "
                               "number: add the customer in Amends first.")
    numbers = (await customers.phone_candidates(session, actor, requester.phone)
               if requester.phone else [])
    data: dict[str, Any] = {"name": (requester.name or "")[:200] or None,
                            "email": (requester.email or "").strip().lower()[:320] or None,
                            "phone": numbers[0] if numbers else None}
    customer, _ = await customers.upsert_customer(
        session, actor, external_id=external_id[:100],
        data={k: v for k, v in data.items() if v})
    return customer


def severity_of(installation: HelpdeskInstallation, ticket: Ticket) -> int:
    """The ticket's priority as a case's severity, 1 to 4 (as every case has it: its value in
    the organisation's `severity_value`), whatever the platform's scale."""
    platform = PLATFORMS.get(installation.platform)
    return within_severities(platform.severity(ticket.priority) if platform else 3)


def within_severities(level: int) -> int:
    """A severity brought within a case's, 1 to 4 (a platform's scale may reach 5)."""
    return min(max(level, SEVERITIES[0]), SEVERITIES[-1])


def reason_of(installation: HelpdeskInstallation, ticket: Ticket) -> str | None:
    """The reason the ticket's tags name (the first mapped tag), else the installation's
    default reason."""
    mapping = effective_settings(installation)["tag_reasons"]
    for tag in ticket.tags:
        if tag.lower() in mapping:
            return str(mapping[tag.lower()])
    default = effective_settings(installation)["default_reason"]
    return str(default) if default else None


async def ticket_case(session: AsyncSession, actor: Actor, installation: HelpdeskInstallation,
                      ticket: Ticket) -> Case | None:
    return await session.scalar(select(Case).where(
        Case.organization_id == actor.organization_id,
        Case.helpdesk_installation_id == installation.id,
        Case.conversation_ref == ticket_ref(installation.platform, ticket.id)))


@dataclass(frozen=True, slots=True)
class Amends:
    case: Case
    given: approvals.Given
    message: Delivery | None


async def make_amends(session: AsyncSession, actor: Actor, installation: HelpdeskInstallation,
                      ticket: Ticket, *, customer: Customer, incentive: Incentive, reason: str,
                      severity: int) -> Amends:
    """The one click: the ticket's case (opened now, or the one it has), the gesture (or a
    request to a supervisor above the agent's authority), and the apology with its code
    posted into the ticket. A second click gives nothing twice. A severity beyond a case's
    (a platform's 5) is brought within 1 to 4."""
    severity = within_severities(severity)
    case, _ = await cases.case_for_ticket(
        session, actor, customer=customer, installation_id=installation.id,
        ticket_ref=ticket_ref(installation.platform, ticket.id), reason=reason,
        severity=severity, summary=ticket.subject[:2000])
    if case.customer_id != customer.id:
        raise Conflict("This ticket's case is about another customer.")
    given = await approvals.give_gesture(session, actor, customer=customer,
                                         incentive=incentive, case=case)
    message = None
    if given.coupon is not None and given.created:
        message = await delivery.deliver(session, actor, coupon=given.coupon, case=case,
                                         channel="helpdesk")
    return Amends(case=case, given=given, message=message)


async def gestures_of(session: AsyncSession, actor: Actor, customer: Customer, *,
                      limit: int = 10) -> list[Coupon]:
    return list((await session.scalars(select(Coupon).where(
        Coupon.organization_id == actor.organization_id, Coupon.customer_id == customer.id)
        .order_by(Coupon.issued_at.desc()).limit(limit))).all())


async def open_cases_of(session: AsyncSession, actor: Actor, customer: Customer
                        ) -> list[Case]:
    return list((await session.scalars(select(Case).where(
        Case.organization_id == actor.organization_id, Case.customer_id == customer.id,
        Case.state != "closed").order_by(Case.opened_at.desc()).limit(10))).all())


@dataclass(frozen=True, slots=True)
class TicketLink:
    """Where a case's ticket is: its page in the helpdesk (`url`), named as the case names it
    (`ref`, e.g. `zendesk:123`), in the helpdesk called `helpdesk` (its platform's title)."""

    url: str
    ref: str
    helpdesk: str


async def ticket_link(session: AsyncSession, case: Case) -> TicketLink | None:
    """The ticket of a case opened from one (None for another case, or when its app was
    uninstalled)."""
    if case.helpdesk_installation_id is None or not case.conversation_ref:
        return None
    installation = await session.get(HelpdeskInstallation,
                                     (case.organization_id, case.helpdesk_installation_id))
    platform = PLATFORMS.get(installation.platform) if installation else None
    if installation is None or platform is None:
        return None
    return TicketLink(url=platform.ticket_url(installation.account,
                                              ticket_id_of(case.conversation_ref)),
                      ref=case.conversation_ref, helpdesk=platform.title)


async def ticket_url(session: AsyncSession, case: Case) -> str | None:
    """The ticket's page in the helpdesk, for a case opened from one."""
    link = await ticket_link(session, case)
    return link.url if link else None


# --- tickets that open and fix cases --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Handled:
    """What a ticket event did: `opened` a case, found it `existing`, `fixed` it, or
    `ignored` the event (and why)."""

    outcome: str
    case: Case | None = None
    why: str = ""


def system_actor(installation: HelpdeskInstallation) -> Actor:
    return Actor.system(installation.organization_id,
                        label=f"{installation.platform}: {installation.name}")


async def ticket_event(session: AsyncSession, installation: HelpdeskInstallation,
                       kind: str, ticket: Ticket) -> Handled:
    """A ticket created or tagged with a mapped tag opens its case (the requester made a
    customer if Amends does not know them); a solved ticket moves its case to `fixed`."""
    actor = system_actor(installation)
    if kind == "solved":
        case = await ticket_case(session, actor, installation, ticket)
        if case is None:
            return Handled("ignored", why="no case for this ticket")
        if case_policy.STATES.index(case.state) >= case_policy.STATES.index("fixed"):
            return Handled("existing", case=case, why=f"the case is {case.state} already")
        skipped = case_policy.steps_between(case.state, "fixed")
        moved = await cases.move(session, actor, case_id=case.id, to="fixed",
                                 details={"remedy": f"Ticket {ticket.id} solved in "
                                                    f"{installation.name}"},
                                 skip_reason=SOLVED_SKIP_REASON if skipped else None)
        return Handled("fixed", case=moved)
    if kind not in ("opened", "tagged"):
        return Handled("ignored", why=f"nothing to do for {kind}")
    reason = reason_of(installation, ticket)
    if reason is None:
        return Handled("ignored", why="none of the ticket's tags names a reason")
    customer = await customer_from_requester(session, actor, ticket.requester)
    case, opened = await cases.case_for_ticket(
        session, actor, customer=customer, installation_id=installation.id,
        ticket_ref=ticket_ref(installation.platform, ticket.id), reason=reason,
        severity=severity_of(installation, ticket), summary=ticket.subject[:2000])
    return Handled("opened" if opened else "existing", case=case)
