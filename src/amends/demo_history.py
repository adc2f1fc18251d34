"""Demo history: months of cases, gestures and redemptions, so the manager's reports have
something to show.

The history is planned first, in memory, from one `random.Random(seed)`: the same seed gives
the same customers, cases, steps and outcomes. Each step then becomes the rows its service
writes (`cases.open_case` and `move`, `coupons.issue_coupon` and `revoke_coupon`,
`redemptions.redeem`, `customers.upsert_customer`): the same columns, timeline events and audit
events, with codes, page tokens, face values, expiries and discounts from the same helpers.
The rows are inserted in bulk, in one transaction: through the services one by one, 3,000
cases take minutes on SQLite, each statement being a round trip to aiosqlite's thread. Staff,
their limits and the catalogue go through the services.

Ids are UUIDv7 stamped with the moment in history the row was made, so that lists ordered by
id follow the history. History owes nobody a message: no gesture is delivered, no follow-up is
scheduled, and parcels are all delivered (a recovery rule created later fires on none).
"""

from __future__ import annotations

import gc
import itertools
import math
import random
import secrets
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from amends.actor import Actor
from amends.approvals import policy as authority
from amends.approvals.service import limits_for, set_limit
from amends.cases import policy as case_policy
from amends.cases import service as case_service
from amends.coupons import policy as coupon_policy
from amends.coupons.service import coupon_summary
from amends.customers.service import FIELDS as CUSTOMER_FIELDS
from amends.db import Base, Database
from amends.demo import DEMO_PASSWORD, demo_password_hash
from amends.kit import codes
from amends.kit.clock import clock, utcnow
from amends.kit.secrets import tenant_token
from amends.models import (
    AuditEvent,
    Case,
    CaseEvent,
    Coupon,
    Customer,
    GiftCardEntry,
    Incentive,
    Order,
    Organization,
    Redemption,
    Shipment,
    Suppression,
    User,
)
from amends.roles import Role
from amends.rollups import changes
from amends.users.service import create_user

ROWS_PER_INSERT = 2000
# Parents before children (foreign keys).
TABLES: tuple[type[Base], ...] = (Customer, Order, Shipment, Case, Suppression, CaseEvent, Coupon,
                                   GiftCardEntry, Redemption, AuditEvent)
STORES = ("Store 12 Lyon", "Store 3 Paris Opéra", "Store 7 Marseille", "Store 21 Lille")
# role, email, name, team, store, share of the cases they open
HISTORY_STAFF = [
    (Role.AGENT, "nina@demo.example", "Nina Novak", "Care team", None, 1.4),
    (Role.AGENT, "omar@demo.example", "Omar Haddad", "Care team", None, 1.0),
    (Role.AGENT, "lea@demo.example", "Léa Martin", "Social team", None, 1.1),
    (Role.AGENT, "tom@demo.example", "Tom Becker", "Social team", None, 0.6),
    (Role.SUPERVISOR, "priya@demo.example", "Priya Shah", "Social team", None, 0.3),
    (Role.AGENT, "ines@demo.example", "Inès Roux", "Stores", STORES[1], 0.8),
]
# Personal authority: a senior agent may give more, an agent in a store only the simple
# vouchers. (The demo's till clerk, clerk@demo.example, is one of the demo's own STAFF.)
PERSONAL_LIMITS = {"nina@demo.example": (2500, None),
                   "ines@demo.example": (1000, ("amount_off", "percent_off"))}
REASON_SHARE = {"late_delivery": 30, "lost_parcel": 12, "damaged_item": 17, "billing_error": 14,
                "refused_coupon": 9, "poor_service": 12}
IN_STORE_REASONS = {"refused_coupon": 4.0, "poor_service": 3.0, "billing_error": 1.5,
                    "late_delivery": 0.1, "lost_parcel": 0.05}
CHANNEL_SHARE = {"email": 30, "chat": 20, "phone": 17, "social": 9, "whatsapp": 7, "in_store": 17}
GESTURES = {  # kinds of the catalogue given for each reason, and how often
    "late_delivery": {"amount_off": 6, "free_shipping": 4, "percent_off": 1},
    "lost_parcel": {"gift_card": 4, "free_shipping": 3, "percent_off": 3},
    "damaged_item": {"percent_off": 5, "gift_card": 3, "amount_off": 1},
    "billing_error": {"amount_off": 7, "percent_off": 3},
    "refused_coupon": {"amount_off": 6, "percent_off": 4},
}
# The demo's experiment: a tenth of these cases get the apology alone (held out, as a recovery
# rule's hold-out is), so that the outcomes page measures what each gesture adds.
HOLD_OUT = {"late_delivery": 0.10, "poor_service": 0.10}
REDEEMED_SHARE = {"amount_off": 0.52, "percent_off": 0.42, "free_shipping": 0.46,
                  "gift_card": 0.62}
ROOT_CAUSES = {
    "late_delivery": [("carrier delay", "DPD"), ("warehouse backlog", "Warehouse Lyon"),
                      ("address problem", "Customer service")],
    "lost_parcel": [("lost by carrier", "Colissimo"), ("wrong address label", "Warehouse Lyon")],
    "damaged_item": [("packaging", "Warehouse Lyon"), ("carrier handling", "DPD"),
                     ("supplier defect", "Buying team")],
    "billing_error": [("price mismatch till vs web", "Store operations"),
                      ("double charge", "Payments team")],
    "refused_coupon": [("till configuration", "Store operations"),
                       ("staff training", "Store operations")],
    "poor_service": [("staff training", "Store operations"), ("understaffed shift", "Rota")],
}
REMEDIES = {"late_delivery": "Parcel delivered; shipping refunded",
            "lost_parcel": "Replacement sent by express", "damaged_item": "Replacement sent",
            "billing_error": "Duplicate charge refunded", "refused_coupon": "Discount refunded",
            "poor_service": "Store manager called the customer back"}
SUMMARIES = {"late_delivery": "Order {order} arrived {late} days after the promised date.",
             "lost_parcel": "The parcel of order {order} never arrived.",
             "damaged_item": "An item of order {order} arrived broken.",
             "billing_error": "Charged twice for order {order}.",
             "refused_coupon": "A valid coupon was refused at the till.",
             "poor_service": "Unhelpful answer at the counter about order {order}."}
CLOSINGS = ["Gesture accepted; customer satisfied", "Customer thanked us",
            "Resolved, no further contact", "Customer confirmed all is well"]
COMMENTS = {5: "Quick and kind, thank you!", 4: "Sorted, thanks.", 3: "Fine in the end.",
            2: "Took far too long.", 1: "Still unhappy about it."}
FIRST = ["Camille", "Lucas", "Emma", "Hugo", "Chloé", "Louis", "Manon", "Jules", "Sarah", "Noah",
         "Zoé", "Adam", "Inès", "Arthur", "Jade", "Liam", "Alice", "Paul", "Lina", "Nathan",
         "Olivia", "Yanis", "Rose", "Ethan", "Anna", "Samuel", "Mila", "Oscar", "Eva", "Victor"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
        "Leroy", "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David",
        "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard", "Andre", "Mercier",
        "Dupont", "Lambert", "Bonnet", "Francois", "Martinez", "Legrand"]
TIERS = {"standard": (60, 5_000, 60_000, 90), "silver": (20, 40_000, 150_000, 60),
         "gold": (14, 150_000, 500_000, 35), "platinum": (6, 500_000, 1_500_000, 20)}
CARRIERS = ["Colissimo", "DPD", "Chronopost", "UPS"]


# Where the demo's customers live: most in France, the others across the shipped languages.
LOCALES = ((0.50, "fr-FR", "Europe/Paris"), (0.62, "de-DE", "Europe/Berlin"),
           (0.70, "de-AT", "Europe/Vienna"), (0.78, "es-ES", "Europe/Madrid"),
           (0.86, "nl-NL", "Europe/Amsterdam"), (1.01, "en-GB", "Europe/London"))


def _locale_of(draw: float) -> dict[str, str]:
    return next({"locale": tag, "time_zone": zone} for bound, tag, zone in LOCALES
                if draw < bound)


@dataclass(frozen=True, slots=True)
class _Person:
    actor: Actor
    role: Role
    team: str | None
    store: str | None
    share: float
    may_give: frozenset[uuid.UUID]


@dataclass(slots=True)
class _Customer:
    id: uuid.UUID
    external_id: str
    data: dict[str, Any]
    created_at: datetime
    every_days: float
    weight: float
    lost_at: datetime | None = None


@dataclass(slots=True)
class _Case:
    number: int
    customer: _Customer
    reason: str
    severity: int
    channel: str
    opener: _Person
    summary: str
    conversation_ref: str | None
    held_out: bool = False
    row: dict[str, Any] = field(default_factory=dict)
    coupon: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Step:
    at: datetime
    case: _Case
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


async def seed_history(db: Database, *, organization_id: uuid.UUID, days: int = 90,
                       cases: int = 3000, seed: int = 7, console: Console | None = None,
                       seconds: dict[str, float] | None = None) -> int:
    """Give a new organisation `cases` cases over the last `days` days, with staff, customers,
    orders, gestures and redemptions; returns the number of cases. The organisation needs the
    demo catalogue (`demo.seed_catalogue`). Run it once, on an organisation nobody uses yet.
    `seconds`, when given, receives how long generating and inserting the rows took."""
    seconds = {} if seconds is None else seconds
    rng = random.Random(seed)
    now = utcnow()
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    with _progress(console) as progress:
        task = progress.add_task("Staff", total=None) if progress is not None else None
        async with db.transaction() as session:
            # Codes come from the organisation's own generator: gestures with a pool are left out.
            incentives = list((await session.scalars(
                select(Incentive).where(Incentive.organization_id == organization_id,
                                        Incentive.active.is_(True),
                                        Incentive.code_pool_id.is_(None))
                .order_by(Incentive.created_at, Incentive.name))).all())
            if not incentives:
                raise ValueError("The organisation has no gestures: seed the catalogue first.")
            with _clock_at(start - timedelta(days=7)):  # staff hired before the history
                people = await _authority(session, await _staff(session, organization_id),
                                          incentives)
            reasons = await case_service.reasons(session, organization_id)
            organization = await session.get(Organization, organization_id)
            assert organization is not None
        started = time.perf_counter()
        with _no_cycle_collection():
            rows = _history(rng, organization, now=now, start=start, days=days, cases=cases,
                            people=people, incentives=incentives, reasons=reasons)
        tables = [(model, rows.tables[model]) for model in TABLES]
        seconds["generate"] = time.perf_counter() - started
        started = time.perf_counter()
        if progress is not None and task is not None:
            progress.update(task, description="History", total=sum(len(t) for _, t in tables))
        with _no_cycle_collection():
            async with db.transaction() as session:
                connection = await session.connection()
                restore = await connection.run_sync(_roomy_cache)
                for model, table in tables:
                    for first in range(0, len(table), ROWS_PER_INSERT):
                        chunk = table[first:first + ROWS_PER_INSERT]
                        await connection.run_sync(_insert, cast(Table, model.__table__), chunk)
                        if progress is not None and task is not None:
                            progress.update(task, advance=len(chunk),
                                            description=f"History: {model.__tablename__}")
                await connection.run_sync(restore)
                # Every day of the history is new to the reports' roll-ups.
                await changes.changed(
                    session, organization_id,
                    gestures=[row["issued_at"] for row in rows.tables[Coupon]],
                    redemptions=[row["created_at"] for row in rows.tables[Redemption]],
                    cases=[row["opened_at"] for row in rows.tables[Case]])
        seconds["insert"] = time.perf_counter() - started
    return cases


def _roomy_cache(connection: Connection) -> Callable[[Connection], None]:
    """On SQLite, a page cache that holds the new rows and their indexes until the commit (the
    default 2 MB spills them to the write-ahead log page by page, then reads them back: most of
    the insert's time); returns what sets it back."""
    if connection.dialect.name != "sqlite":
        return lambda _connection: None
    size = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
    connection.exec_driver_sql("PRAGMA cache_size = -262144")  # KiB: 256 MB at most

    def restore(again: Connection) -> None:
        again.exec_driver_sql(f"PRAGMA cache_size = {int(size)}")
    return restore


def _insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) in one executemany. On SQLite the values are
    converted by the columns' own bind processors here, in one loop, and handed to the driver
    as tuples: SQLAlchemy's per-row parameter handling costs more than SQLite's insert itself.
    Elsewhere, a Core insert (asyncpg batches it)."""
    if not rows:
        return
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(insert(table), rows)
        return
    keys = list(rows[0])
    columns = [table.c[key] for key in keys]
    # Columns the history leaves to their defaults (held_out, incident_id ...).
    missing = [c for c in table.columns if c.key not in rows[0]]
    constants = []
    for column in missing:
        default = column.default
        if default is not None and not default.is_scalar:
            raise ValueError(f"{table.name}.{column.key} needs a value per row")
        constants.append(default.arg if default is not None else None)  # type: ignore[attr-defined]
    processors = [c.type.dialect_impl(dialect).bind_processor(dialect)
                  for c in (*columns, *missing)]
    same = object()
    # Every value goes through its processor, None too: a JSON column stores None as 'null',
    # as the Core insert does.
    convert = [same if process is None else process for process in processors]
    fixed = [value if process is same else process(value)  # type: ignore[operator]
             for value, process in zip(constants, convert[len(keys):], strict=True)]
    by_key = list(zip(keys, convert, strict=False))
    values = [tuple([row[key] if process is same else process(row[key])  # type: ignore[operator]
                     for key, process in by_key] + fixed) for row in rows]
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in (*columns, *missing))
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' * len(values[0]))})",
        values)


def _history(rng: random.Random, organization: Organization, *, now: datetime,
             start: datetime, days: int, cases: int, people: list[_Person],
             incentives: list[Incentive], reasons: dict[str, str]) -> _Rows:
    """The rows of the whole history, in memory."""
    plan = _Plan(rng, now=now, start=start, days=days, people=people, incentives=incentives,
                 reasons=sorted(reasons),
                 feedback_delay=timedelta(days=organization.feedback_delay_days))
    customers = plan.customers(max(10, cases // 2))
    steps = plan.cases(cases, customers)
    rows = _Rows(organization, reasons)
    rows.customers(customers)
    rows.purchases(*plan.purchases(customers))
    for step in steps:
        rows.take(step)
    rows.reminders(now=now, days=organization.reminder_days)
    return rows


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Hundreds of thousands of dicts that live until the insert, and no cycles among them:
    the cyclic garbage collector would walk them all again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _clock_at(moment: datetime) -> Iterator[None]:
    """Freeze the application clock at `moment`, then give it back as it was (the demo serves
    right afterwards, and a test may have frozen it on purpose)."""
    saved = (clock._frozen, clock._offset)
    clock.freeze(moment)
    try:
        yield
    finally:
        clock._frozen, clock._offset = saved


def _progress(console: Console | None) -> AbstractContextManager[Progress | None]:
    if console is None:
        return nullcontext()
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console)


# Random bits of the ids: unpredictable enough for rows nobody guesses (they are not secrets,
# and drawing 76 bits from the OS per row costs a second per 100,000 rows).
_ID_BITS = random.Random(secrets.randbits(128))
_UUID7 = 0x7 << 76 | 0x2 << 62  # version 7, RFC 4122 variant (RFC 9562, section 5.7)


def _id_at(moment: datetime) -> uuid.UUID:
    """A UUIDv7 of a row made at `moment` (`new_id` stamps the wall clock, and runs ahead of
    it by a millisecond per id when ids are drawn faster than that)."""
    millis = int(moment.timestamp() * 1000) & 0xFFFF_FFFF_FFFF
    bits = _ID_BITS.getrandbits(74)
    return uuid.UUID(int=millis << 80 | _UUID7 | (bits >> 62) << 64 | (bits & (1 << 62) - 1))


async def _staff(session: AsyncSession, organization_id: uuid.UUID) -> list[_Person]:
    """The history's staff, and the organisation's own agents and supervisors."""
    admin = Actor.system(organization_id, "demo")
    shares = {}
    hashed = await demo_password_hash()
    for role, email, name, team, store, share in HISTORY_STAFF:
        await create_user(session, admin, organization_id=organization_id, email=email,
                          name=name, role=role, password=DEMO_PASSWORD, team=team, store=store,
                          password_hash=hashed)
        shares[email] = share
    users = (await session.scalars(select(User).where(
        User.organization_id == organization_id, User.active.is_(True),
        User.role.in_((Role.AGENT.value, Role.SUPERVISOR.value))).order_by(User.email))).all()
    return [_Person(
        actor=Actor.for_user(organization_id=organization_id, user_id=user.id,
                             email=user.email, role=Role(user.role)),
        role=Role(user.role), team=user.team, store=user.store, may_give=frozenset(),
        share=shares.get(user.email, 1.0 if user.role == Role.AGENT else 0.3),
    ) for user in users]


async def _authority(session: AsyncSession, people: list[_Person],
                     incentives: list[Incentive]) -> list[_Person]:
    """Who may give which gesture on their own: what does not fit is given by a supervisor."""
    by_kind = {incentive.kind: incentive.id for incentive in incentives}
    admin = Actor.system(people[0].actor.organization_id, "demo")
    for person in people:
        if person.actor.label in PERSONAL_LIMITS:
            most, kinds = PERSONAL_LIMITS[person.actor.label]
            await set_limit(session, admin, subject=f"user:{person.actor.id}",
                            currency=incentives[0].currency, max_gesture=most,
                            daily_budget=None, monthly_budget=None,
                            incentive_ids=None if kinds is None else
                            [by_kind[k] for k in kinds if k in by_kind])
    organization = await session.get(Organization, people[0].actor.organization_id)
    assert organization is not None
    allowed = []
    for person in people:
        mine = set()
        for incentive in incentives:
            limits = await limits_for(session, person.actor, incentive.currency)
            value = coupon_policy.face_value(
                incentive.kind, incentive.value,
                average_order_value=organization.average_order_value)
            if authority.may_give(limits, face_value=value, incentive_id=str(incentive.id)):
                mine.add(incentive.id)
        allowed.append(_Person(actor=person.actor, role=person.role, team=person.team,
                               store=person.store, share=person.share,
                               may_give=frozenset(mine)))
    return allowed


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _office(at: datetime) -> datetime:
    """Staff work from 08:00 to 19:00 UTC: what comes later waits for the next morning."""
    if at.hour < 8:
        return at.replace(hour=8)
    if at.hour >= 19:
        return (at + timedelta(days=1)).replace(hour=8)
    return at


def _amount(rng: random.Random) -> int:
    return max(900, round(rng.lognormvariate(math.log(5500), 0.5) / 10) * 10)


class _Plan:
    """The whole history, decided up front; only what happened before `now` is kept."""

    def __init__(self, rng: random.Random, *, now: datetime, start: datetime, days: int,
                 people: list[_Person], incentives: list[Incentive], reasons: list[str],
                 feedback_delay: timedelta) -> None:
        self.rng, self.now, self.start, self.days = rng, now, start, days
        self.people, self.reasons, self.feedback_delay = people, reasons, feedback_delay
        self.incentives = {incentive.kind: incentive for incentive in reversed(incentives)}
        self.currency = incentives[0].currency
        self.supervisors = [p for p in people if p.role == Role.SUPERVISOR]
        self.orders: list[dict[str, Any]] = []
        self.shipments: list[dict[str, Any]] = []
        self.order_number = 100_000

    def customers(self, count: int) -> list[_Customer]:
        rng, planned = self.rng, []
        tiers = {tier: float(spec[0]) for tier, spec in TIERS.items()}
        for n in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            tier = _pick(rng, tiers)
            _, low, high, every_days = TIERS[tier]
            created_at = self.start - timedelta(days=rng.uniform(20, 400))
            mailbox = unicodedata.normalize("NFKD", f"{first}.{last}.{2001 + n}").encode(
                "ascii", "ignore").decode().lower()
            planned.append(_Customer(
                id=_id_at(created_at), external_id=f"C-{2001 + n}", created_at=created_at,
                every_days=every_days, weight=rng.paretovariate(2.5),
                data={"name": f"{first} {last}", "value_tier": tier, "currency": self.currency,
                      "email": f"{mailbox}@example.com",
                      "phone": f"+3367{rng.randint(0, 9_999_999):07d}"
                      if rng.random() < 0.7 else None,
                      **_locale_of(rng.random()),
                      "lifetime_value": rng.randint(low // 100, high // 100) * 100,
                      "marketing_consent": rng.random() < 0.5,
                      "tags": ["vip"] if tier == "platinum" else []}))
        return sorted(planned, key=lambda c: c.created_at)

    def _opened_at(self, cum_days: list[float]) -> tuple[int, datetime]:
        while True:
            day = self.rng.choices(range(self.days + 1), cum_weights=cum_days)[0]
            at = self.start + timedelta(days=day, hours=self.rng.triangular(7, 21, 11))
            if at < self.now:
                return day, at

    def _reason(self, day: int, channel: str) -> str:
        weights = {}
        for key in self.reasons:
            weight = float(REASON_SHARE.get(key, 5))
            if channel == "in_store":
                weight *= IN_STORE_REASONS.get(key, 1.0)
            if key in ("late_delivery", "lost_parcel") and 18 <= self.days - day <= 24:
                weight *= 3  # a carrier strike three weeks ago
            if key == "billing_error" and self.days - day < 7:
                weight *= 2.5  # a price mismatch between tills and web this week
            weights[key] = weight
        return _pick(self.rng, weights)

    def cases(self, count: int, customers: list[_Customer]) -> list[_Step]:
        rng = self.rng
        # A little busier every week, quieter at weekends, a peak during the carrier strike.
        cum_days = list(itertools.accumulate(
            (0.8 + 0.4 * d / self.days)
            * (0.55 if (self.start + timedelta(days=d)).weekday() >= 5 else 1.0)
            * (1.6 if 18 <= self.days - d <= 24 else 1.0) for d in range(self.days + 1)))
        store_staff = {p.actor.label: p.share for p in self.people if p.store}
        desk_staff = {p.actor.label: p.share for p in self.people if not p.store}
        by_label = {p.actor.label: p for p in self.people}
        cum_customers = list(itertools.accumulate(c.weight for c in customers))
        opened = []
        for _ in range(count):
            channel = _pick(rng, {k: float(v) for k, v in CHANNEL_SHARE.items()})
            day, at = self._opened_at(cum_days)
            opened.append((at, day, channel))
        steps: list[_Step] = []
        for number, (at, day, channel) in enumerate(sorted(opened)):
            customer = rng.choices(customers, cum_weights=cum_customers)[0]
            opener = by_label[_pick(rng, store_staff if channel == "in_store" and store_staff
                                    else desk_staff)]
            reason = self._reason(day, channel)
            order = self._case_order(customer, reason, at)
            case = _Case(number=number, customer=customer, reason=reason,
                         severity=rng.choices((1, 2, 3, 4), weights=(30, 40, 22, 8))[0],
                         channel=channel, opener=opener, conversation_ref=None
                         if channel in ("phone", "in_store") else f"ZD-{48_000 + number}",
                         summary=SUMMARIES.get(reason, "{order}: see the conversation.").format(
                             order=order, late=rng.randint(2, 9)),
                         held_out=rng.random() < HOLD_OUT.get(reason, 0.0))
            steps.extend(step for step in self._life(case, at) if step.at < self.now)
        return sorted(steps, key=lambda s: (s.at, s.case.number))

    def _life(self, case: _Case, at: datetime) -> Iterator[_Step]:
        """The steps of one case, each after the one before."""
        rng, opener = self.rng, case.opener
        opened_at = at
        yield _Step(at, case, "open")
        stall = rng.choice(("open", "apologised", "reviewing")) if rng.random() < 0.05 else None
        state = "open"
        if rng.random() < 0.92:
            at = _office(at + timedelta(minutes=rng.uniform(3, 90)))
            yield _Step(at, case, "move", {"to": "apologised", "by": opener.actor,
                                           "details": {"apology": f"Apologised by {case.channel}"}})
            state = "apologised"
        given = None
        if not case.held_out and rng.random() < 0.82:
            at += timedelta(minutes=rng.uniform(1, 20))
            given = yield from self._gesture(case, at)
        # A customer let down and sent away empty-handed may stop buying.
        if rng.random() < {None: 0.35, "given": 0.12}.get(given, 0.0) and \
                case.customer.lost_at is None:
            case.customer.lost_at = opened_at
        if stall == state:
            return
        if rng.random() < 0.65:
            at = _office(at + timedelta(hours=rng.uniform(1, 30)))
            cause, party = rng.choice(ROOT_CAUSES.get(case.reason, [("other", "Operations")]))
            yield _Step(at, case, "move", {
                "to": "reviewing", "by": opener.actor, "details": {
                    "root_cause": cause, "responsible_party": party},
                "skip": "Went straight to the review" if state == "open" else None})
            state = "reviewing"
        if stall is not None:
            return
        hours = rng.lognormvariate(math.log((6, 12, 24, 40)[case.severity - 1]), 0.7)
        at = _office(at + timedelta(hours=hours))
        skip = {"open": "Fixed at first contact",
                "apologised": "Clear-cut: no review needed"}.get(state)
        yield _Step(at, case, "move", {"to": "fixed", "by": opener.actor, "skip": skip,
                                       "details": {"remedy": REMEDIES.get(case.reason, "Fixed")}})
        if rng.random() < 0.15:
            at = _office(at + timedelta(hours=rng.uniform(1, 48)))
            yield _Step(at, case, "move", {
                "to": "closed", "by": opener.actor, "details": {"summary": rng.choice(CLOSINGS)},
                "skip": "The customer confirmed the fix on the spot"})
            return
        at += self.feedback_delay + timedelta(minutes=rng.uniform(1, 360))
        yield _Step(at, case, "move", {
            "to": "followed_up", "by": Actor.system(opener.actor.organization_id, "follow-up"),
            "details": {"notes": "Feedback requested"}})
        if rng.random() < 0.35:
            at += timedelta(hours=rng.uniform(2, 120))
            scores = (30, 30, 18, 12, 10) if given is None else (45, 30, 13, 7, 5)
            score = rng.choices((5, 4, 3, 2, 1), weights=scores)[0]
            yield _Step(at, case, "feedback", {
                "score": score, "comment": COMMENTS[score] if rng.random() < 0.4 else None})
        at = _office(at + timedelta(days=rng.uniform(1, 7)))
        yield _Step(at, case, "move", {"to": "closed", "by": opener.actor,
                                       "details": {"summary": rng.choice(CLOSINGS)}})

    def _gesture(self, case: _Case, at: datetime) -> Generator[_Step, None, str | None]:
        """Give a gesture of the catalogue (a supervisor gives what the opener may not), then
        maybe withdraw it, or see it redeemed before it expires. Returns "given" or "redeemed"
        (None when it was withdrawn)."""
        rng = self.rng
        kinds = {k: float(w) for k, w in GESTURES.get(case.reason, {"percent_off": 1}).items()
                 if k in self.incentives} or dict.fromkeys(self.incentives, 1.0)
        incentive = self.incentives[_pick(rng, kinds)]
        giver = case.opener
        if incentive.id not in giver.may_give:
            giver = self._supervisor(giver, incentive.id)
        yield _Step(at, case, "give", {"incentive": incentive, "by": giver.actor})
        if rng.random() < 0.03:
            yield _Step(at + timedelta(hours=rng.uniform(0.5, 48)), case, "revoke", {
                "by": self._supervisor(case.opener, None).actor,
                "reason": rng.choice(("Issued twice by mistake",
                                      "The customer preferred a refund"))})
            return None
        if rng.random() >= REDEEMED_SHARE.get(incentive.kind, 0.4):
            return "given"
        lasts = timedelta(days=(incentive.validity_days or 60) - 0.5)
        wait = timedelta(days=min(rng.expovariate(1 / 12), lasts.days))
        in_store = incentive.kind != "free_shipping" and rng.random() < 0.4
        used = at + wait + timedelta(minutes=rng.uniform(10, 600))
        used = _office(used) if in_store else used
        if used >= min(self.now, at + lasts):
            return "given"
        amount = max(_amount(rng), (incentive.min_order or 0) + 500)
        order = self._order(case.customer, amount, completed_at=used)
        store = rng.choice(STORES) if in_store else None
        yield _Step(used, case, "redeem", {
            "order_id": order, "amount": amount, "store": store,
            "channel": "in_store" if in_store else "online",
            "till": f"T{rng.randint(1, 4)}" if in_store else None,
            "shipping": 495 if incentive.kind == "free_shipping" else None,
            "by": Actor.system(case.opener.actor.organization_id,
                               "Till (POS)" if in_store else "Web shop")})
        return "redeemed"

    def _supervisor(self, person: _Person, incentive_id: uuid.UUID | None) -> _Person:
        """The supervisor of the person's team (or another) who may give the incentive."""
        able = [p for p in self.supervisors if incentive_id is None or incentive_id in p.may_give]
        return next((p for p in able if p.team == person.team), able[0] if able else person)

    def _order(self, customer: _Customer, amount: int, *, completed_at: datetime | None = None,
               placed_at: datetime | None = None, promised_at: datetime | None = None) -> str:
        self.order_number += 1
        external_id = f"O-{self.order_number}"
        when = completed_at or placed_at
        assert when is not None
        self.orders.append({
            "customer": customer, "customer_external_id": customer.external_id,
            "external_id": external_id,
            "status": "completed" if completed_at else "placed", "amount": amount,
            "currency": self.currency, "placed_at": placed_at or completed_at,
            "promised_at": promised_at, "completed_at": completed_at, "created_at": when,
            "updated_at": when, "lines": [{"sku": f"SKU-{self.rng.randint(1000, 1999)}",
                                          "quantity": 1, "price": amount}]})
        return external_id

    def _case_order(self, customer: _Customer, reason: str, opened_at: datetime) -> str:
        """The order the case is about, and its parcel when it was late or broken."""
        rng = self.rng
        placed = opened_at - timedelta(days=rng.uniform(4, 12))
        promised = placed + timedelta(days=3)
        order = self._order(customer, _amount(rng), placed_at=placed, promised_at=promised)
        if reason in ("late_delivery", "damaged_item"):
            delivered = (opened_at + timedelta(hours=rng.uniform(2, 72))
                         if reason == "late_delivery" else
                         min(placed + timedelta(days=rng.uniform(2, 4)),
                             opened_at - timedelta(hours=1)))
            delivered = min(delivered, self.now - timedelta(minutes=5))
            carrier = rng.choice(CARRIERS)
            self.shipments.append({
                "customer": customer, "external_id": f"SH-{order[2:]}",
                "order_external_id": order, "carrier": carrier,
                "tracking_number": f"{carrier[:2].upper()}{rng.randint(10**9, 10**10 - 1)}",
                "status": "delivered", "promised_at": promised, "last_scan_at": delivered,
                "last_location": "Delivered", "delivered_at": delivered, "created_at": placed,
                "updated_at": delivered})
        return order

    def purchases(self, customers: list[_Customer]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Everyday purchases, so that coming back after a recovery means something: from a
        season before the history (what came earlier changes no figure of it)."""
        since = self.start - timedelta(days=90)
        for customer in customers:
            at = max(customer.created_at, since)
            while True:
                at += timedelta(days=self.rng.expovariate(1 / customer.every_days))
                if at >= self.now or (customer.lost_at is not None and at > customer.lost_at):
                    break
                self._order(customer, _amount(self.rng), completed_at=at)
        return ([o for o in self.orders if o["created_at"] < self.now],
                [s for s in self.shipments if s["created_at"] < self.now])


class _Rows:
    """The rows the services write for each step, built in time order."""

    def __init__(self, organization: Organization, reasons: dict[str, str]) -> None:
        self.organization_id = organization.id
        self.code_prefix = organization.code_prefix or ""
        self.average_order_value = organization.average_order_value
        self.reasons = reasons
        self.tables: dict[type[Base], list[dict[str, Any]]] = {model: [] for model in TABLES}
        self.suppressions: dict[uuid.UUID, dict[str, Any]] = {}
        self.open_cases: Counter[uuid.UUID] = Counter()
        self.references: set[str] = set()
        self.codes: set[str] = set()

    def _add(self, model: type[Base], at: datetime, **values: Any) -> dict[str, Any]:
        row = {"id": _id_at(at), "organization_id": self.organization_id, **values}
        self.tables[model].append(row)
        return row

    def _audit(self, actor: Actor, at: datetime, *, action: str, object_type: str,
               object_id: Any, before: dict[str, Any] | None = None,
               after: dict[str, Any] | None = None, reason: str | None = None) -> None:
        self._add(AuditEvent, at, actor_type=actor.kind, actor_id=actor.id,
                  actor_label=actor.label, action=action, object_type=object_type,
                  object_id=str(object_id), before=before, after=after, reason=reason,
                  request_id=None, created_at=at)

    def _event(self, case: _Case, actor_label: str, at: datetime, *, kind: str, summary: str,
               data: dict[str, Any]) -> None:
        self._add(CaseEvent, at, case_id=case.row["id"], kind=kind, summary=summary[:500],
                  data=data, actor_label=actor_label, created_at=at)

    def customers(self, customers: list[_Customer]) -> None:
        """As `upsert_customer` creates them, imported by the shop's customer feed."""
        for customer in customers:
            actor = Actor.system(self.organization_id, "customer import")
            values = {"locale": None, "marketing_consent": False, "tags": [],
                      "opted_out_channels": [], **customer.data}
            row = {"id": customer.id, "organization_id": self.organization_id,
                   "external_id": customer.external_id, **values,
                   "name_search": (values.get("name") or "").lower() or None,
                   "created_at": customer.created_at, "updated_at": customer.created_at}
            self.tables[Customer].append(row)
            self._audit(actor, customer.created_at, action="customer.created",
                        object_type="customer", object_id=customer.id,
                        after={f: row.get(f) for f in CUSTOMER_FIELDS})

    def purchases(self, orders: list[dict[str, Any]], shipments: list[dict[str, Any]]) -> None:
        for model, rows in ((Order, orders), (Shipment, shipments)):
            for values in rows:
                customer: _Customer = values["customer"]
                self._add(model, values["created_at"], customer_id=customer.id,
                          **{k: v for k, v in values.items() if k != "customer"})

    def take(self, step: _Step) -> None:
        write: dict[str, Callable[..., None]] = {
            "open": self._open, "move": self._move, "give": self._give,
            "redeem": self._redeem, "revoke": self._revoke, "feedback": self._feedback}
        write[step.kind](step.case, step.at, **step.detail)

    def _open(self, case: _Case, at: datetime) -> None:
        """`cases.open_case`: the case, its first event, the audit, the suppression."""
        actor, customer = case.opener.actor, case.customer
        reference = codes.random_reference("C-")
        while reference in self.references:  # the service's odds, but 3,000 at once
            reference = codes.random_reference("C-")
        self.references.add(reference)
        case.row = self._add(
            Case, at, reference=reference, customer_id=customer.id,
            customer_external_id=customer.external_id, reason=case.reason,
            severity=case.severity, channel=case.channel, conversation_ref=case.conversation_ref,
            state="open", summary=case.summary, root_cause=None, responsible_party=None,
            remedy=None, skipped={}, opened_by_type=actor.kind, opened_by_id=actor.id,
            opened_by_label=actor.label, opened_at=at, fixed_at=None, closed_at=None,
            reopened_count=0, feedback_score=None, feedback_comment=None, feedback_at=None,
            thanked_at=None, held_out=case.held_out, incident_id=None, updated_at=at)
        said, data = case_service.opened_words(case.row, self.reasons[case.reason])
        self._event(case, actor.label, at, kind="opened", summary=said, data=data)
        public = {"id": str(case.row["id"]), "reference": reference,
                  "customer_id": customer.external_id, "reason": case.reason,
                  "severity": case.severity, "channel": case.channel, "state": "open",
                  "conversation_ref": case.conversation_ref}
        self._audit(actor, at, action="case.opened", object_type="case",
                    object_id=case.row["id"], after=public)
        self.open_cases[customer.id] += 1
        suppression = self.suppressions.get(customer.id)
        if suppression is None:
            self.suppressions[customer.id] = self._add(
                Suppression, at, customer_id=customer.id,
                customer_external_id=customer.external_id, email=customer.data.get("email"),
                phone=customer.data.get("phone"), active=True, reason="open_case",
                changed_at=at, created_at=at)
        elif not suppression["active"]:
            suppression.update(active=True, changed_at=at)

    def _move(self, case: _Case, at: datetime, *, to: str, by: Actor, details: dict[str, Any],
              skip: str | None = None) -> None:
        """`cases.move` (without the feedback request it schedules on a fix)."""
        before = case.row["state"]
        skipped = case_policy.steps_between(before, to)
        fields = {k: v for k, v in details.items()
                  if k in case_service.STEP_FIELDS.get(to, ()) and v}
        case.row.update(state=to, updated_at=at)
        if to == "reviewing":
            case.row.update({k: fields[k] for k in ("root_cause", "responsible_party")
                             if k in fields})
        if to == "fixed":
            case.row.update(fixed_at=at, **{k: fields[k] for k in ("remedy",) if k in fields})
        if to == "closed":
            case.row.update(closed_at=at, **{k: fields[k] for k in ("summary",) if k in fields})
        if skipped:
            case.row["skipped"] = {**case.row["skipped"], **dict.fromkeys(skipped, skip)}
        self._event(case, by.label, at, kind="state_changed",
                    summary=f"{before} → {to}" + (f" (skipped {', '.join(skipped)}: {skip})"
                                                   if skipped else ""),
                    data={"from": before, "to": to, "skipped": skipped, **fields})
        self._audit(by, at, action="case.state_changed", object_type="case",
                    object_id=case.row["id"], before={"state": before},
                    after={"state": to, **fields}, reason=skip)
        if to == "closed":
            customer = case.customer.id
            self.open_cases[customer] -= 1
            if not self.open_cases[customer]:
                self.suppressions[customer].update(active=False, changed_at=at)

    def _give(self, case: _Case, at: datetime, *, by: Actor, incentive: Incentive) -> None:
        """`coupons.issue_coupon`, and the case event `approvals.give_gesture` adds."""
        code = codes.generate(self.code_prefix)
        while code in self.codes:
            code = codes.generate(self.code_prefix)
        self.codes.add(code)
        gift_card = incentive.kind == coupon_policy.GIFT_CARD
        case.coupon = self._add(
            Coupon, at, customer_id=case.customer.id,
            customer_external_id=case.customer.external_id, incentive_id=incentive.id,
            case_ref=case.row["reference"], code=code,
            page_token=tenant_token(self.organization_id),
            name=incentive.name, kind=incentive.kind, value=incentive.value,
            currency=incentive.currency, min_order=incentive.min_order, sku=incentive.sku,
            terms=incentive.terms, bound_to_customer=incentive.bound_to_customer,
            face_value=coupon_policy.face_value(incentive.kind, incentive.value,
                                                average_order_value=self.average_order_value),
            status="active", balance=incentive.value if gift_card else None, last_debit=None,
            redemption_count=0, valid_from=at,
            expires_at=coupon_policy.expiry(at, validity_days=incentive.validity_days,
                                            valid_until=incentive.valid_until),
            reserved_until=None, reservation_id=None, redeemed_at=None, revoked_at=None,
            revoked_reason=None, reinstated_count=0, reminded_at=None, channel=case.channel,
            issued_by_type=by.kind, issued_by_id=by.id, issued_by_label=by.label, issued_at=at)
        coupon = case.coupon
        if gift_card:
            self._add(GiftCardEntry, at, coupon_id=coupon["id"], redemption_id=None,
                      kind="issue", amount=coupon["value"], balance_after=coupon["value"],
                      created_at=at)
        self._audit(by, at, action="coupon.issued", object_type="coupon",
                    object_id=coupon["id"],
                    # The service's summary of a coupon, read from the row (an ORM object per
                    # coupon would cost more than the rest of the gesture).
                    after=coupon_summary(cast(Coupon, SimpleNamespace(**coupon))))
        self._event(case, by.label, at, kind="coupon_issued",
                    summary=f"{coupon['name']} issued ({coupon['face_value'] / 100:.2f} "
                            f"{coupon['currency']})", data={"coupon_id": str(coupon["id"])})

    def _redeem(self, case: _Case, at: datetime, *, by: Actor, order_id: str, amount: int,
                channel: str, store: str | None, till: str | None,
                shipping: int | None) -> None:
        """`redemptions.redeem`: single use, a gift card's debit, or a free-shipping perk."""
        coupon = case.coupon
        assert coupon["status"] == "active"
        assert coupon["valid_from"] <= at < coupon["expires_at"]
        discount = coupon_policy.discount(coupon["kind"], coupon["value"], amount,
                                          balance=coupon["balance"], shipping_amount=shipping)
        coupon.update(redeemed_at=at, redemption_count=coupon["redemption_count"] + 1)
        if coupon["kind"] in coupon_policy.SINGLE_USE_KINDS:
            coupon["status"] = "redeemed"
        redemption = self._add(
            Redemption, at, coupon_id=coupon["id"], reservation_id=None, order_id=order_id,
            order_amount=amount, discount=discount, currency=coupon["currency"],
            channel=channel, store_id=store, till_id=till, status="completed",
            actor_id=by.id, created_at=at, voided_at=None, void_reason=None)
        after: dict[str, Any] = {"code": coupon["code"], "order_id": order_id,
                                 "order_amount": amount, "discount": discount,
                                 "channel": channel, "store_id": store}
        if coupon["kind"] == coupon_policy.GIFT_CARD:
            balance = coupon["balance"] - discount
            coupon.update(balance=balance, last_debit=discount,
                          status="redeemed" if balance == 0 else "active")
            self._add(GiftCardEntry, at, coupon_id=coupon["id"], redemption_id=redemption["id"],
                      kind="debit", amount=-discount, balance_after=balance, created_at=at)
            after["balance_after"] = balance
        self._audit(by, at, action="coupon.redeemed", object_type="coupon",
                    object_id=coupon["id"], after=after)

    def _revoke(self, case: _Case, at: datetime, *, by: Actor, reason: str) -> None:
        """`coupons.revoke_coupon`."""
        case.coupon.update(status="revoked", revoked_at=at, revoked_reason=reason)
        self._audit(by, at, action="coupon.revoked", object_type="coupon",
                    object_id=case.coupon["id"], reason=reason, after={"status": "revoked"})

    def reminders(self, *, now: datetime, days: int) -> None:
        """What the hourly `delivery.remind_expiring` sweep recorded: a coupon still unused
        when its reminder window opened was claimed then (and sent nothing, with no channel
        set up), so the first sweep after seeding finds no history to remind of."""
        if days <= 0:
            return
        reminded = (*coupon_policy.SINGLE_USE_KINDS, coupon_policy.GIFT_CARD)
        for coupon in self.tables[Coupon]:
            opens = coupon["expires_at"] - timedelta(days=days)
            ended = coupon["revoked_at"] or (coupon["redeemed_at"]
                                             if coupon["status"] == "redeemed" else None)
            if coupon["kind"] in reminded and opens <= now and (ended is None or ended > opens):
                coupon["reminded_at"] = max(opens, coupon["issued_at"])

    def _feedback(self, case: _Case, at: datetime, *, score: int, comment: str | None) -> None:
        """What the customer's feedback form on the coupon page records."""
        case.row.update(feedback_score=score, feedback_comment=comment, feedback_at=at,
                        updated_at=at)
        self._event(case, "amends", at, kind="feedback",
                    summary=f"Customer feedback: {score}/5" + (f" — {comment}" if comment else ""),
                    data={"score": score})
