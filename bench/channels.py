"""Messages per second through the channel adapters, against local receivers: SMS to an
HTTP server shaped like Twilio's Messages API, e-mail to an SMTP server (aiosmtpd).

    .venv/bin/python -m bench.channels [--messages 2000] [--concurrency 8]

Each adapter is driven as a worker drives it (`--concurrency` sends at once) and compared, in
the same run, with the way it used to send: a new HTTP client (TLS context and all) for each
SMS, a new SMTP connection for each e-mail. Prints messages/s and p50/p99 per send.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx
from aiosmtpd.controller import Controller

from amends.delivery.channels import Email, Outgoing, TwilioMessages
from amends.kit import http, outbound
from bench._net import free_port

ROOT = Path(__file__).resolve().parents[1]
UVICORN = Path(sys.executable).with_name("uvicorn")


class Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def message(n: int, channel: str) -> Outgoing:
    return Outgoing(id=f"bench-{n}", channel=channel,
                    address="+447700900123" if channel == "sms" else f"c{n}@bench.example",
                    subject="Sorry about your order", text="We are sorry. Here is 5 off.",
                    html="<p>We are sorry. Here is 5 off.</p>", extra={})


async def drive(send: Callable[[int], Awaitable[Any]], *, messages: int, concurrency: int
                ) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(messages):
        queue.put_nowait(n)

    async def one_sender() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            began = time.perf_counter()
            await send(n)
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(one_sender() for _ in range(concurrency)))
    return messages / (time.perf_counter() - began), latencies


def line(name: str, rate: float, latencies: list[float], baseline: float | None) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    ratio = f"  ({rate / baseline:.1f}x the old way)" if baseline else "  (the old way)"
    return (f"{name:34} {rate:8.0f} msg/s  p50 {cuts[49] * 1000:6.1f} ms  "
            f"p99 {cuts[98] * 1000:6.1f} ms{ratio}")


Sender = Callable[[int], Awaitable[Any]]


async def compare(old: tuple[str, Sender], new: tuple[str, Sender], args: argparse.Namespace
                  ) -> list[str]:
    """The old way (the baseline) then the new one, with the same load."""
    old_rate, old_latencies = await drive(old[1], messages=args.messages,
                                          concurrency=args.concurrency)
    new_rate, new_latencies = await drive(new[1], messages=args.messages,
                                          concurrency=args.concurrency)
    return [line(old[0], old_rate, old_latencies, None),
            line(new[0], new_rate, new_latencies, old_rate)]


async def sms(port: int, args: argparse.Namespace) -> list[str]:
    settings = {"base_url": f"http://127.0.0.1:{port}", "account_sid": "AC1",
                "auth_token": "secret", "from_number": "+15005550006"}
    adapter = TwilioMessages()

    async def old_way(n: int) -> None:
        # What each SMS did before: its own client, TLS context included.
        async with httpx.AsyncClient(timeout=http.TIMEOUT) as client:
            response = await client.post(
                f"{settings['base_url']}/2010-04-01/Accounts/AC1/Messages.json",
                data={"To": "+447700900123", "From": settings["from_number"], "Body": "x"},
                auth=("AC1", "secret"))
            response.raise_for_status()

    async def new_way(n: int) -> None:
        await adapter.send(message(n, "sms"), settings)

    lines = await compare(("SMS, a client per message", old_way),
                          ("SMS, the shared client", new_way), args)
    await http.close()
    return lines


async def email(port: int, args: argparse.Namespace) -> list[str]:
    settings = {"host": "127.0.0.1", "port": port, "security": "none",
                "from_address": "care@bench.example"}
    adapter = Email()

    async def old_way(n: int) -> None:
        # What each e-mail did before: EmailMessage, and a connection of its own.
        mail = EmailMessage()
        mail["From"], mail["To"] = settings["from_address"], f"c{n}@bench.example"
        mail["Subject"], mail["Message-ID"] = "Sorry about your order", f"<bench-{n}@b>"
        mail.set_content("We are sorry. Here is 5 off.")
        mail.add_alternative("<p>We are sorry. Here is 5 off.</p>", subtype="html")
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=port, start_tls=False,
                              use_tls=False)

    async def new_way(n: int) -> None:
        await adapter.send(message(n, "email"), settings)

    lines = await compare(("e-mail, a connection per message", old_way),
                          ("e-mail, kept connections", new_way), args)
    await adapter.pool.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    http_port, smtp_port = free_port(), free_port()
    receiver = subprocess.Popen(
        [str(UVICORN), "bench.sms_receiver:app", "--port", str(http_port), "--log-level",
         "warning", "--no-access-log"], cwd=ROOT)
    controller = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        # The receivers listen on 127.0.0.1, which the outbound policy refuses by default.
        with outbound.policy(allow_private=True):
            lines = asyncio.run(sms(http_port, args)) + asyncio.run(email(smtp_port, args))
    finally:
        receiver.terminate()
        receiver.wait(timeout=30)
        controller.stop()
    print(f"\n{args.messages:,} messages, {args.concurrency} at once, local receivers")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
