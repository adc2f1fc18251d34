"""Messages leave many at a time: each once, in its own words, and a refusal fails only its
own message."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select, update

from amends.actor import Actor
from amends.config import Settings
from amends.db import Database
from amends.delivery import service as delivery
from amends.delivery.service import save_channel
from amends.delivery.templates import gesture_in_words
from amends.jobs.loader import load_job_kinds
from amends.jobs.worker import Worker
from amends.kit import codes
from amends.kit.clock import utcnow
from amends.models import Coupon, Delivery, Job
from tests.factories import Tenant, make_coupon, make_customer, make_incentive, make_org
from tests.receivers import Mailbox, smtp_server

LOCALES = ("en", "fr", "de", "es", "nl")
load_job_kinds()  # the workers below know every kind, as `amends worker` does


async def _email_channel(db: Database, tenant: Tenant, mail: Mailbox) -> None:
    async with db.transaction() as session:
        await save_channel(session, Actor.system(tenant.id, "tests"), channel="email",
                           active=True, settings={"host": mail.host, "port": mail.port,
                                                  "security": "none",
                                                  "from_address": "care@shop.example"},
                           allow_private=True)


async def _queue(db: Database, tenant: Tenant, count: int) -> dict[str, Coupon]:
    """`count` gestures by e-mail, to customers reading five languages; by address."""
    incentive = await make_incentive(db, tenant, value=1000)
    coupons = {}
    for n in range(count):
        address = f"c{n}@example.com"
        customer = await make_customer(db, tenant, external_id=f"C-{n}", email=address,
                                       name=f"Customer {n}", locale=LOCALES[n % len(LOCALES)])
        coupon = await make_coupon(db, tenant, customer=customer, incentive=incentive)
        async with db.transaction() as session:
            await delivery.deliver(session, Actor.system(tenant.id, "tests"), coupon=coupon,
                                   channel="email")
        coupons[address] = coupon
    return coupons


async def _statuses(db: Database) -> dict[str, tuple[str, int, str | None]]:
    async with db.transaction(write=False) as session:
        rows = (await session.execute(select(Delivery.address, Delivery.status,
                                             Delivery.attempts, Delivery.error))).all()
    return {address: (status, attempts, error) for address, status, attempts, error in rows}


async def test_a_batch_sends_each_message_once_in_its_customers_own_words(
        db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with smtp_server() as mail:
        await _email_channel(db, tenant, mail)
        coupons = await _queue(db, tenant, 25)
        ran = await Worker(db, settings, concurrency=2).run_until_idle()
        assert ran == 25
        by_message_id = Counter(m["Message-ID"] for m in mail.messages)
        assert len(mail.messages) == 25
        assert set(by_message_id.values()) == {1}
        async with db.transaction(write=False) as session:
            languages = dict((await session.execute(
                select(Delivery.address, Delivery.language))).all())
        for n, (address, coupon) in enumerate(coupons.items()):
            [email] = mail.to(address)
            text = email.get_body(("plain",)).get_content()
            locale = LOCALES[n % len(LOCALES)]
            assert languages[address] == locale
            assert codes.display(coupon.code) in text
            assert gesture_in_words("amount_off", 1000, "EUR", locale=locale) in text
            assert f"Customer {n}" in text
    assert set((await _statuses(db)).values()) == {("sent", 1, None)}


async def test_a_refused_address_fails_only_its_own_message(
        db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with smtp_server(refuse={"c3@example.com"}) as mail:
        await _email_channel(db, tenant, mail)
        await _queue(db, tenant, 12)
        await Worker(db, settings).run_until_idle()
        assert sorted(m["To"] for m in mail.messages) == sorted(
            f"c{n}@example.com" for n in range(12) if n != 3)
    statuses = await _statuses(db)
    status, attempts, error = statuses.pop("c3@example.com")
    assert (status, attempts) == ("queued", 1)
    assert error is not None
    assert "No such mailbox" in error
    assert set(statuses.values()) == {("sent", 1, None)}
    async with db.transaction(write=False) as session:
        jobs = (await session.execute(select(Job.status, Job.attempts, Job.last_error).where(
            Job.kind == "delivery.send"))).all()
    # Only the refused message's job waits for its retry, on its own backoff.
    assert sorted((status, attempts) for status, attempts, _ in jobs) == sorted(
        [("succeeded", 1)] * 11 + [("queued", 1)])
    assert [e for _, _, e in jobs if e] == [next(e for _, _, e in jobs if e)]


async def test_a_batch_run_again_does_not_send_what_it_recorded_sent(
        db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with smtp_server() as mail:
        await _email_channel(db, tenant, mail)
        await _queue(db, tenant, 10)
        await Worker(db, settings).run_until_idle()
        assert len(mail.messages) == 10
        # Every job comes back as if its worker had died before it could say it was done.
        async with db.transaction() as session:
            await session.execute(update(Job).where(Job.kind == "delivery.send")
                                  .values(status="queued", run_at=utcnow()))
        ran = await Worker(db, settings).run_until_idle()
        assert ran == 10
        assert len(mail.messages) == 10
    assert set((await _statuses(db)).values()) == {("sent", 1, None)}


async def test_an_agents_message_goes_first_among_an_incidents_messages(
        db: Database, settings: Settings) -> None:
    tenant = await make_org(db)
    with smtp_server() as mail:
        await _email_channel(db, tenant, mail)
        await _queue(db, tenant, 60)
        async with db.transaction() as session:  # an incident's: they yield to a person's
            await session.execute(update(Job).where(Job.kind == "delivery.send")
                                  .values(priority=8))
        agent = await make_customer(db, tenant, external_id="C-agent", email="vip@example.com")
        coupon = await make_coupon(db, tenant, customer=agent)
        async with db.transaction() as session:
            await delivery.deliver(session, Actor.system(tenant.id, "tests"), coupon=coupon,
                                   channel="email")
        await Worker(db, settings).run_until_idle()
        assert len(mail.messages) == 61
        # Among the first the connections to the server carry at once, not behind the 60.
        assert "vip@example.com" in [m["To"] for m in mail.messages[:8]]
