"""The outbound address policy on its own: which addresses are public, and the shared HTTP
client and the SMTP pool connecting only where it allows."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from amends.delivery.channels import DeliveryFailed, Email, Outgoing
from amends.kit import http, outbound
from tests.receivers import http_receiver, smtp_server


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("169.254.169.254", "link_local"),
    ("fe80::1", "link_local"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("100.64.0.1", "shared"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("fec0::1", "site_local"),
    ("192.0.2.1", "private"),  # documentation
    ("198.18.0.1", "private"),  # benchmarking
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "link_local"),
    ("64:ff9b::a9fe:a9fe", "link_local"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2001::1", "private"),  # Teredo
])
def test_non_public_addresses_are_refused_with_their_reason(address: str, reason: str) -> None:
    assert outbound.why_not_public(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", [
    "8.8.8.8", "93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert outbound.why_not_public(ipaddress.ip_address(address)) is None


async def test_a_name_is_refused_when_it_resolves_to_a_loopback_address() -> None:
    with pytest.raises(outbound.OutboundRefused) as refused:
        await outbound.allowed_addresses("localhost", timeout=3, allow_private=False)
    assert refused.value.reason == "loopback"
    assert "localhost resolves to" in str(refused.value)


async def test_the_http_client_refuses_a_loopback_peer_and_the_receiver_gets_nothing() -> None:
    with http_receiver() as receiver, outbound.policy(allow_private=False):
        with pytest.raises(httpx.ConnectError, match=r"127\.0\.0\.1 is a loopback address"):
            await http.client().post(receiver.url + "/hook", content=b"{}")
        with pytest.raises(httpx.ConnectError, match=r"localhost resolves to .*loopback"):
            await http.client().post(receiver.url.replace("127.0.0.1", "localhost"))
        await http.close()
    assert receiver.requests == []


async def test_allowed_local_peers_are_reached_by_name_with_the_names_host_header() -> None:
    with http_receiver() as receiver, outbound.policy(allow_private=True):
        port = receiver.url.rsplit(":", 1)[1]
        response = await http.client().post(f"http://localhost:{port}/hook", content=b"{}")
        await http.close()
    assert response.status_code == 200
    [received] = receiver.requests
    assert received.headers["Host"] == f"localhost:{port}"


async def test_the_smtp_pool_refuses_a_loopback_server_and_the_mail_fails_with_the_reason(
) -> None:
    email = Email()
    message = Outgoing(id="0190-1", channel="email", address="ann@shop.example",
                       subject="Sorry", text="Hello", html=None, extra={})
    with smtp_server() as mail, outbound.policy(allow_private=False):
        with pytest.raises(DeliveryFailed, match=r"127\.0\.0\.1 is a loopback address"):
            await email.send(message, {"host": mail.host, "port": mail.port,
                                       "security": "none", "from_address": "care@shop.example"})
        await email.pool.close()
    assert mail.messages == []
    assert email.pool.opened == 0
