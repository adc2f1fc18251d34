"""The demo's outbox: what Amends sent while it runs as a demo, kept on disk by the demo's own
receivers (a mail catcher, and HTTP endpoints shaped like the SMS, helpdesk and webhook
providers), so that every message can be read as its recipient would see it.

E-mails are kept whole in a Maildir (`mail/`); the other channels' messages as JSON lines
(`messages.jsonl`). Both are written by one process (the demo server) and read by the page.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from amends.kit.ids import new_id

SHOWN = 200
_append = threading.Lock()


@dataclass(frozen=True, slots=True)
class Received:
    """One message as its recipient got it."""

    key: str
    channel: str
    to: str
    sender: str
    subject: str
    text: str
    received_at: datetime
    has_html: bool = False


class Outbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._mail = mailbox.Maildir(directory / "mail", create=True)
        self._lines = directory / "messages.jsonl"

    def keep_mail(self, raw: bytes) -> str:
        return str(self._mail.add(raw))

    def keep_message(self, *, channel: str, to: str, sender: str, text: str,
                     detail: dict[str, Any] | None = None) -> str:
        key = str(new_id())
        line = json.dumps({"key": key, "channel": channel, "to": to, "from": sender,
                           "text": text, "detail": detail or {},
                           "received_at": datetime.now(UTC).isoformat()}, ensure_ascii=False)
        with _append, self._lines.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        return key

    def latest(self, limit: int = SHOWN) -> list[Received]:
        """The newest messages of every channel, newest first."""
        found = [self._summary(key, message) for key, message in self._mail.iteritems()]
        if self._lines.exists():
            for line in self._lines.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                    found.append(Received(
                        key=item["key"], channel=item["channel"], to=item["to"],
                        sender=item["from"], subject="", text=item["text"],
                        received_at=datetime.fromisoformat(item["received_at"])))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash is not a message
        return sorted(found, key=lambda m: m.received_at, reverse=True)[:limit]

    def mail(self, key: str) -> EmailMessage | None:
        try:
            raw = self._mail.get_bytes(key)
        except (KeyError, ValueError):
            return None
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @staticmethod
    def html_of(message: EmailMessage) -> str | None:
        part = message.get_body(preferencelist=("html",))
        return str(part.get_content()) if part is not None else None

    @staticmethod
    def text_of(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""

    def _summary(self, key: str, message: mailbox.MaildirMessage) -> Received:
        parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return Received(
            key=key, channel="email", to=str(parsed.get("To", "")),
            sender=str(parsed.get("From", "")), subject=str(parsed.get("Subject", "")),
            text=self.text_of(parsed)[:400], has_html=self.html_of(parsed) is not None,
            received_at=datetime.fromtimestamp(message.get_date(), UTC))
