"""The client's address: the connection's peer, unless a trusted proxy forwarded the request;
then the right-most forwarded address that is not one of our proxies."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from amends.config import Settings
from amends.kit.client import ClientAddresses, limit_bucket
from tests.web.live import free_port, serve


def _scope(peer: str | None, *headers: tuple[str, str]) -> dict[str, object]:
    return {"client": (peer, 443) if peer else None,
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}


def test_without_trusted_proxies_forwarded_headers_are_ignored() -> None:
    addresses = ClientAddresses([])
    assert addresses.of(_scope("203.0.113.9", ("X-Forwarded-For", "198.51.100.1"))) \
        == "203.0.113.9"
    assert addresses.of(_scope(None)) == "unknown"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_forwards() -> None:
    addresses = ClientAddresses(["10.0.0.0/8"])
    assert addresses.of(_scope("203.0.113.9", ("X-Forwarded-For", "198.51.100.1"))) \
        == "203.0.113.9"


def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client() -> None:
    addresses = ClientAddresses(["10.0.0.0/8", "2001:db8:ffff::/48"])
    xff = "X-Forwarded-For"
    assert addresses.of(_scope("10.0.0.1", (xff, "198.51.100.1"))) == "198.51.100.1"
    # Whatever the client wrote on the left is not believed.
    assert addresses.of(_scope("10.0.0.1", (xff, "1.1.1.1, 2.2.2.2, 198.51.100.1"))) \
        == "198.51.100.1"
    assert addresses.of(_scope("10.0.0.1", (xff, "198.51.100.1, 10.2.2.2"))) == "198.51.100.1"
    # Several header lines are one list; ports and brackets are not part of the address.
    assert addresses.of(_scope("10.0.0.1", (xff, "1.1.1.1"), (xff, "198.51.100.1:5123"))) \
        == "198.51.100.1"
    assert addresses.of(_scope("2001:db8:ffff::1", (xff, "[2001:db8:1::7]:443"))) \
        == "2001:db8:1::7"
    # Garbage where our proxy wrote the address: the proxy is the last thing known for sure.
    assert addresses.of(_scope("10.0.0.1", (xff, "198.51.100.1, unknown"))) == "10.0.0.1"
    # Only proxies of ours, all the way: the left-most of them.
    assert addresses.of(_scope("10.0.0.1", (xff, "10.3.3.3, 10.2.2.2"))) == "10.3.3.3"
    assert addresses.of(_scope("10.0.0.1")) == "10.0.0.1"


def test_the_forwarded_header_is_read_when_the_proxies_write_that_one() -> None:
    addresses = ClientAddresses(["10.0.0.0/8"], header="Forwarded")
    forwarded = 'for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1'
    assert addresses.of(_scope("10.0.0.1", ("Forwarded", forwarded),
                               ("X-Forwarded-For", "3.3.3.3"))) == "2001:db8:cafe::17"
    assert addresses.of(_scope("10.0.0.1", ("Forwarded", "for=_hidden"))) == "10.0.0.1"
    # The other header is the client's to forge: not read.
    assert addresses.of(_scope("10.0.0.1", ("X-Forwarded-For", "3.3.3.3"))) == "10.0.0.1"


def test_limits_count_an_ipv6_client_by_its_whole_allocation() -> None:
    assert limit_bucket("2001:db8:1:2:aaaa::1") == limit_bucket("2001:db8:1:2:bbbb::9") \
        == "2001:db8:1:2::/64"
    assert limit_bucket("::ffff:198.51.100.1") == "198.51.100.1"
    assert limit_bucket("unknown") == "unknown"


def test_a_bad_trusted_proxy_setting_stops_the_server_from_starting() -> None:
    with pytest.raises(ValidationError, match=r"10\.0\.0\.300"):
        Settings(trusted_proxies="10.0.0.0/8, 10.0.0.300", _env_file=None)  # type: ignore[call-arg]
    parsed = Settings(trusted_proxies="10.0.0.0/8, 192.0.2.1", _env_file=None)  # type: ignore[call-arg]
    assert parsed.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]


def test_amends_serve_does_not_believe_forwarded_addresses_by_itself(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """uvicorn would take X-Forwarded-For from 127.0.0.1 as the client: the server runs with
    its proxy handling off, so only AMENDS_TRUSTED_PROXIES decides."""
    monkeypatch.setenv("AMENDS_COUPON_PAGE_MISSES_PER_MINUTE", "2")
    port = free_port()
    server = serve(database_url, port, tmp_path / "server.log")
    try:
        answers = [httpx.get(f"http://127.0.0.1:{port}/c/no-such-link",
                             headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10)
                   for n in range(3)]
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert [a.status_code for a in answers] == [404, 404, 429]
