"""E-mail goes out over SMTP connections kept open between messages."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from amends.delivery.channels import Email, Outgoing
from amends.kit import outbound
from tests.receivers import smtp_server


@pytest.fixture(autouse=True)
def _local_receivers_allowed() -> Iterator[None]:
    """The test SMTP server listens on 127.0.0.1 (no worker here to carry the setting)."""
    with outbound.policy(allow_private=True):
        yield


def _message(n: int, *, subject: str = "Sorry about your order") -> Outgoing:
    return Outgoing(id=f"0190-{n}", channel="email", address=f"c{n}@shop.example",
                    subject=subject, text=f"Hello {n}", html=f"<p>Hello {n}</p>", extra={})


def _settings(port: int, **more: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "security": "none",
            "from_address": "care@shop.example", **more}


async def test_many_messages_to_one_server_share_one_connection() -> None:
    email = Email()
    with smtp_server() as mail:
        for n in range(10):
            await email.send(_message(n), _settings(mail.port))
        await email.pool.close()
    assert [m["To"] for m in mail.messages] == [f"c{n}@shop.example" for n in range(10)]
    assert len(set(mail.peers)) == 1
    assert email.pool.opened == 1


async def test_messages_sent_at_once_use_at_most_the_connections_the_provider_allows() -> None:
    email = Email()
    with smtp_server() as mail:
        await asyncio.gather(*(email.send(_message(n), _settings(mail.port, max_connections=3))
                               for n in range(20)))
        await email.pool.close()
    assert sorted(m["To"] for m in mail.messages) == sorted(
        f"c{n}@shop.example" for n in range(20))
    assert len(set(mail.peers)) <= 3


async def test_a_connection_the_server_dropped_is_replaced_and_the_message_still_goes() -> None:
    email = Email()
    with smtp_server() as first:
        port = first.port
        await email.send(_message(1), _settings(port))
    # The server restarted: the connection kept open is dead.
    with smtp_server(port) as second:
        await email.send(_message(2), _settings(port))
        await email.pool.close()
    assert [m["To"] for m in first.messages] == ["c1@shop.example"]
    assert [m["To"] for m in second.messages] == ["c2@shop.example"]
    assert email.pool.opened == 2


async def test_accents_in_the_subject_and_the_senders_name_arrive_intact() -> None:
    email = Email()
    with smtp_server() as mail:
        sent = await email.send(
            _message(1, subject="Désolé pour votre colis"),
            _settings(mail.port, from_address="Boutique Élise <care@shop.example>"))
        await email.pool.close()
    received = mail.messages[0]
    assert received["Subject"] == "Désolé pour votre colis"
    assert received["From"].addresses[0].display_name == "Boutique Élise"
    assert received["Message-ID"] == sent.provider_id == "<0190-1@shop.example>"
    assert received.get_body(("plain",)).get_content().strip() == "Hello 1"
    assert received.get_body(("html",)).get_content().strip() == "<p>Hello 1</p>"
