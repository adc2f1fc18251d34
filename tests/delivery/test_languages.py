"""Customers read their messages in their own language, from the organisation's brand: a
French customer gets French e-mail and SMS with Paris times and euro amounts written the
French way; German, fallback and override rules; staff notes in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from sqlalchemy import update

from amends.actor import Actor
from amends.config import Settings
from amends.db import Database
from amends.delivery import service as delivery
from amends.delivery.templates import sms_segments
from amends.delivery.wording import Phrase
from amends.jobs.worker import Worker
from amends.kit import locale
from amends.models import Coupon, Organization, User
from amends.roles import Role
from tests.factories import (
    bearer,
    make_customer,
    make_incentive,
    make_org,
    make_user,
    set_limit,
    staff_headers,
)
from tests.receivers import http_receiver, smtp_server

EXPIRES = datetime(2027, 1, 30, 2, 48, tzinfo=UTC)
SENDER_NAME = "Maison Robert \u2013 Service client"  # an en dash: not ASCII
BRAND = {"display_name": "Maison Robert", "sender_name": SENDER_NAME,
         "sender_email": "bonjour@maison-robert.example",
         "reply_to": "aide@maison-robert.example", "support_email": "aide@maison-robert.example",
         "brand_color": "#8a1538"}


async def _organisation(db: Database, **settings: Any) -> tuple[Any, dict[str, str]]:
    tenant = await make_org(db)
    async with db.transaction() as session:
        await session.execute(update(Organization).where(Organization.id == tenant.id)
                              .values(**{**BRAND, **settings}))
    return tenant, bearer(tenant.admin_token)


async def _channels(client: httpx.AsyncClient, admin: dict[str, str], *, smtp_port: int,
                    sms_url: str | None = None) -> None:
    answer = await client.put("/v1/channels/email", headers=admin, json={"settings": {
        "host": "127.0.0.1", "port": smtp_port, "security": "none",
        "from_address": "noreply@amends.example"}})
    assert answer.status_code == 200, answer.text
    if sms_url:
        answer = await client.put("/v1/channels/sms", headers=admin, json={"settings": {
            "account_sid": "AC1", "auth_token": "tok", "from_number": "+15005550006",
            "base_url": sms_url}})
        assert answer.status_code == 200, answer.text


async def _gesture(client: httpx.AsyncClient, db: Database, tenant: Any,
                   admin: dict[str, str], *, customer: str, channel: str = "email"
                   ) -> dict[str, Any]:
    """A 10 € gesture expiring 2027-01-30T02:48Z, sent on `channel`."""
    incentive = await make_incentive(db, tenant, value=1000, validity_days=3650,
                                     name="Dix euros")
    issued = await client.post("/v1/coupons", headers=admin, json={
        "customer_id": customer, "incentive_id": str(incentive.id)})
    assert issued.status_code == 201, issued.text
    coupon: dict[str, Any] = issued.json()
    async with db.transaction() as session:
        await session.execute(update(Coupon).where(Coupon.organization_id == tenant.id)
                              .values(expires_at=EXPIRES))
    sent = await client.post(f"/v1/coupons/{coupon['id']}/deliveries", headers=admin,
                             json={"channel": channel})
    assert sent.status_code == 201, sent.text
    coupon["delivery"] = sent.json()
    return coupon


async def test_a_french_customer_gets_a_french_email_from_the_brand_with_paris_times(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db)
    await make_customer(db, tenant, external_id="ZR", name="Zoé Robert",
                        email="zoe@example.fr", locale="fr-FR", time_zone="Europe/Paris")
    with smtp_server() as mail:
        await _channels(client, admin, smtp_port=mail.port)
        coupon = await _gesture(client, db, tenant, admin, customer="ZR")
        await Worker(db, settings).run_until_idle()
    [email] = mail.to("zoe@example.fr")
    assert coupon["delivery"]["language"] == "fr"
    assert str(email["Subject"]) == ("Avec nos excuses\u00a0: 10,00\u00a0€ de réduction sur "
                                     "votre prochaine commande")
    sender = email["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (SENDER_NAME,
                                                       "bonjour@maison-robert.example")
    assert email["Reply-To"].addresses[0].addr_spec == "aide@maison-robert.example"
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Bonjour Zoé Robert," in part
        assert "10,00\u00a0€ de réduction sur votre prochaine commande" in part
        assert "30 janvier 2027 à 03:48" in part  # 02:48 UTC is 03:48 in Paris in winter
        assert coupon["code"] in part
        assert "aide@maison-robert.example" in part  # the support contact in the footer
    assert "Valable jusqu'au 30 janvier 2027 à 03:48." in text
    assert "L'équipe Maison Robert" in text
    assert '<html lang="fr">' in html
    assert "background:#8a1538" in html  # the brand's colour in the header and button
    assert f'href="{settings.base_url}/c/' in html  # the button to the coupon page
    assert "Afficher mon code" in html


async def test_a_french_sms_carries_the_brand_and_is_counted_as_the_phone_counts_it(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db)
    await make_customer(db, tenant, external_id="ZR", name="Zoé Robert", phone="+33612345678",
                        locale="fr-FR", time_zone="Europe/Paris")
    with smtp_server() as mail, http_receiver(reply=b'{"sid":"SM1"}') as sms:
        await _channels(client, admin, smtp_port=mail.port, sms_url=sms.url)
        coupon = await _gesture(client, db, tenant, admin, customer="ZR", channel="sms")
        await Worker(db, settings).run_until_idle()
    [request] = sms.requests
    body = parse_qs(request.body.decode())["Body"][0]
    assert body.startswith("Maison Robert: Nous sommes sincèrement désolés")
    assert "10,00 € de réduction" in body  # an ordinary space: GSM-7 has no NBSP
    assert "valable jusqu'au 30 janvier 2027 à 03:48" in body
    assert coupon["code"] in body
    # è, é and à are in the GSM-7 alphabet and € in its extension table (two septets).
    counted = sms_segments(body)
    assert counted["encoding"] == "GSM-7"
    assert counted["characters"] == len(body) + body.count("€")
    assert counted["segments"] == -(-counted["characters"] // 153)
    preview = (await client.post("/v1/templates/preview", headers=admin, json={
        "coupon_id": coupon["id"], "channel": "sms"})).json()
    assert preview["sms"] == counted


async def test_an_sms_over_the_budget_is_sent_short_and_one_still_over_it_is_not_sent(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db, sms_max_segments=2)
    await make_customer(db, tenant, external_id="ZR", phone="+33612345678", locale="fr-FR")
    wordy = ("Chère cliente, cher client, {{ apology }} " * 4 + "{{ gesture }} : {{ code }}, "
             "valable jusqu'au {{ expires }}. {{ page_url }}")
    saved = await client.put("/v1/templates", headers=admin, json={
        "channel": "sms", "language": "fr", "body_text": wordy})
    assert saved.status_code == 200, saved.text
    with smtp_server() as mail, http_receiver(reply=b'{"sid":"SM1"}') as sms:
        await _channels(client, admin, smtp_port=mail.port, sms_url=sms.url)
        coupon = await _gesture(client, db, tenant, admin, customer="ZR", channel="sms")
        await Worker(db, settings).run_until_idle()
        [request] = sms.requests
        body = parse_qs(request.body.decode())["Body"][0]
        # The pleasantries went; the code, the expiry and the link stayed.
        assert body.startswith(f"Maison Robert: Code {coupon['code']} (10,00 € de réduction")
        assert "jusqu'au 30 janvier 2027 à" in body
        assert f"{settings.base_url}/c/" in body
        assert sms_segments(body)["segments"] <= 2
        assert "Chère cliente" not in body

        async with db.transaction() as session:
            await session.execute(update(Organization).where(Organization.id == tenant.id)
                                  .values(sms_max_segments=1))
        await make_customer(db, tenant, external_id="ZR2", phone="+33612345679",
                            locale="fr-FR")
        refused = await _gesture(client, db, tenant, admin, customer="ZR2", channel="sms")
        await Worker(db, settings).run_until_idle()
        assert len(sms.requests) == 1  # nothing cut in the middle of a code is sent
    failed = refused["delivery"]
    assert failed["status"] == "failed"
    assert "segments" in failed["error"]
    assert "allows 1" in failed["error"]


async def test_an_austrian_customer_reads_german_with_austrian_dates(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db)
    await make_customer(db, tenant, external_id="AT", name="Anna Huber",
                        email="anna@example.at", locale="de-AT", time_zone="Europe/Vienna")
    with smtp_server() as mail:
        await _channels(client, admin, smtp_port=mail.port)
        coupon = await _gesture(client, db, tenant, admin, customer="AT")
        await Worker(db, settings).run_until_idle()
    [email] = mail.to("anna@example.at")
    assert coupon["delivery"]["language"] == "de"
    assert str(email["Subject"]) == "Unsere Entschuldigung \u2013 und ein Geschenk für Sie"
    text = email.get_body(("plain",)).get_content()
    assert "Guten Tag Anna Huber," in text
    assert f"{locale.money(1000, 'EUR', 'de-AT')} Rabatt auf Ihre nächste Bestellung" in text
    assert "Gültig bis 30. Jänner 2027 um 03:48 Uhr." in text  # Austrian month name
    assert "Mit freundlichen Grüßen" in text


async def test_a_locale_the_organisation_does_not_write_in_reads_its_default(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db, default_locale="fr",
                                        supported_locales=["en", "fr", "de"])
    await make_customer(db, tenant, external_id="BR", email="joao@example.br",
                        locale="pt-BR", time_zone="America/Sao_Paulo")
    with smtp_server() as mail:
        await _channels(client, admin, smtp_port=mail.port)
        coupon = await _gesture(client, db, tenant, admin, customer="BR")
        await Worker(db, settings).run_until_idle()
    [email] = mail.to("joao@example.br")
    assert coupon["delivery"]["language"] == "fr"
    text = email.get_body(("plain",)).get_content()
    assert text.startswith("Bonjour,")  # no name: the greeting alone
    assert "29 janvier 2027 à 23:48" in text  # their own zone still


async def test_the_organisations_french_wording_is_what_a_canadian_customer_reads(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db)
    await make_customer(db, tenant, external_id="CA", name="Luc", email="luc@example.ca",
                        locale="fr-CA", time_zone="America/Toronto")
    saved = await client.put("/v1/templates", headers=admin, json={
        "channel": "email", "language": "fr", "subject": "Pour vous, {{ customer_name }}",
        "body_text": "{{ greeting }} Voici {{ gesture }}, code {{ code }} ({{ expires }})."})
    assert saved.status_code == 200, saved.text
    german = await client.put("/v1/templates", headers=admin, json={
        "channel": "email", "language": "de-at", "subject": "Für Sie",
        "body_text": "{{ gesture }}"})
    assert german.json()["language"] == "de-AT"  # stored canonical
    with smtp_server() as mail:
        await _channels(client, admin, smtp_port=mail.port)
        coupon = await _gesture(client, db, tenant, admin, customer="CA")
        await Worker(db, settings).run_until_idle()
    [email] = mail.to("luc@example.ca")
    assert str(email["Subject"]) == "Pour vous, Luc"
    assert coupon["delivery"]["language"] == "fr"
    text = email.get_content() if not email.is_multipart() else \
        email.get_body(("plain",)).get_content()
    assert f"Bonjour Luc, Voici 10,00\u00a0€ de réduction sur votre prochaine commande, " \
           f"code {coupon['code']} (29 janvier 2027 à 21 h 48)." in text
    # A preview renders as a reader of another locale would read it.
    preview = (await client.post("/v1/templates/preview", headers=admin, json={
        "coupon_id": coupon["id"], "channel": "email", "locale": "nl-BE"})).json()
    assert preview["language"] == "nl"
    assert preview["subject"].startswith("Onze excuses: ")
    refused = await client.post("/v1/templates/preview", headers=admin, json={
        "coupon_id": coupon["id"], "channel": "email", "locale": "klingon"})
    assert refused.status_code == 422


async def test_staff_notes_are_in_each_readers_language_and_zone(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db)
    await set_limit(db, tenant, subject="role:agent", max_gesture=2000)
    agent = await make_user(db, tenant, role=Role.AGENT, email="agent@example.fr")
    french = await make_user(db, tenant, role=Role.SUPERVISOR, email="chef@example.fr")
    # Both supervisors: a request is told to its tier (the managers hear of it past the SLA).
    english = await make_user(db, tenant, role=Role.SUPERVISOR, email="boss@example.com")
    async with db.transaction() as session:
        await session.execute(update(User).where(User.organization_id == tenant.id,
                                                 User.id.in_([agent.id, french.id]))
                              .values(locale="fr", time_zone="Europe/Paris"))
    await make_customer(db, tenant, external_id="C-1")
    incentive = await make_incentive(db, tenant, value=50000, name="Grand geste")
    worker = Worker(db, settings)
    with smtp_server() as mail:
        await _channels(client, admin, smtp_port=mail.port)
        asked = await client.post("/v1/coupons", headers=await staff_headers(db, agent), json={
            "customer_id": "C-1", "incentive_id": str(incentive.id), "note": "Trois retards"})
        assert asked.status_code == 202, asked.text
        await worker.run_until_idle()
        [note] = mail.to("chef@example.fr")
        assert str(note["Subject"]) == "Validation requise\u00a0: Grand geste pour C-1"
        text = note.get_body(("plain",)).get_content()
        assert "500,00\u00a0€" in text
        assert "Sa note\u00a0: Trois retards" in text
        deadline = datetime.fromisoformat(asked.json()["expires_at"])
        assert f"Merci de décider avant le {locale.date(deadline, 'fr', 'Europe/Paris')} à " \
               f"{locale.time(deadline, 'fr', 'Europe/Paris')}" in text
        assert '<html lang="fr">' in note.get_body(("html",)).get_content()
        assert note["From"].addresses[0].display_name == SENDER_NAME
        [boss] = mail.to("boss@example.com")
        assert str(boss["Subject"]) == "Approval needed: Grand geste for C-1"
        assert "€500.00" in boss.get_body(("plain",)).get_content()
        refused = await client.post(f"/v1/approvals/{asked.json()['id']}/refuse",
                                    headers=await staff_headers(db, english),
                                    json={"reason": "Already compensated"})
        assert refused.status_code == 200, refused.text
        await worker.run_until_idle()
    [told] = mail.to("agent@example.fr")
    assert str(told["Subject"]) == "Votre demande a été refusée"
    assert "boss@example.com a refusé votre demande pour le client C-1." in \
        told.get_body(("plain",)).get_content()


GESTURE_ES = "Con nuestras disculpas: 10,00\u00a0€ de descuento en su próximo pedido"
NEWS_ES = "Buenas noticias: su código vuelve a ser válido hasta el 1 de marzo de 2027"


async def test_a_reinstated_gesture_is_announced_in_the_customers_language(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    tenant, admin = await _organisation(db)
    await make_customer(db, tenant, external_id="ES", name="Lucía", email="lucia@example.es",
                        locale="es-ES", time_zone="Europe/Madrid")
    with smtp_server() as mail:
        await _channels(client, admin, smtp_port=mail.port)
        coupon = await _gesture(client, db, tenant, admin, customer="ES")
        # Reinstating tells the customer by itself ...
        reinstated = await client.post(f"/v1/coupons/{coupon['id']}/reinstate", headers=admin,
                                       json={"reason": "Hospital stay",
                                             "expires_at": "2027-03-01T11:00:00Z"})
        assert reinstated.status_code == 200, reinstated.text
        # ... unless asked not to; the message can then be sent when the agent chooses.
        quiet = await client.post(f"/v1/coupons/{coupon['id']}/reinstate", headers=admin,
                                  json={"reason": "A week more", "days": 7, "notify": False})
        assert quiet.status_code == 200, quiet.text
        await Worker(db, settings).run_until_idle()
        # The gesture and the news may arrive in either order: each is known by its subject.
        received = mail.to("lucia@example.es")
        assert sorted(str(m["Subject"]) for m in received) == sorted([GESTURE_ES, NEWS_ES])
        [news] = [m for m in received if str(m["Subject"]) == NEWS_ES]
        told = await client.post(f"/v1/coupons/{coupon['id']}/deliveries", headers=admin,
                                 json={"channel": "email", "kind": "reinstatement"})
        assert told.status_code == 201, told.text
        await Worker(db, settings).run_until_idle()
        assert len(mail.to("lucia@example.es")) == 3
    text = news.get_body(("plain",)).get_content()
    assert text.startswith("Hola, Lucía:")
    assert "Puede usarlo hasta el 1 de marzo de 2027 a las 12:00." in text
    assert told.json()["kind"] == "reinstatement"


async def test_a_case_message_is_written_in_the_customers_language_when_rendered(
    db: Database,
) -> None:
    tenant, _ = await _organisation(db)
    customer = await make_customer(db, tenant, external_id="NL", name="Daan", locale="nl-NL")
    async with db.transaction() as session:
        message = await delivery.deliver(
            session, Actor.system(tenant.id, "tests"), coupon=None, customer=customer,
            channel="copy", kind="apology",
            detail=Phrase("parcel_late", {"parcel": "1Z999"}))
    assert message.language == "nl"
    assert message.body_text.startswith("Beste Daan,")
    assert "Uw pakket 1Z999 is vertraagd. We zijn ermee bezig" in message.body_text
