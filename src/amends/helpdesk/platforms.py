"""What every helpdesk platform supplies, in one shape: the ticket in front of the agent, the
events a ticket sends, and the platform's own rules (its priorities, its ticket addresses, how
its requests are signed and its replies posted). Each platform's module in
`integrations/<platform>/` registers a `Platform`; the panel and the ticket events work on
these shapes only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

# Every platform Amends can be installed in, whether or not its module is loaded.
PLATFORM_NAMES = ("zendesk", "freshdesk", "intercom", "gorgias")


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asked: what the helpdesk knows of the customer, matched to an Amends customer by
    external id, then e-mail, then phone."""

    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    """The ticket (or conversation) the panel is opened from. `id` is the platform's own;
    `priority` its word for it (`urgent`, `4`, ...), read into a severity by the platform."""

    id: str
    requester: Requester = field(default_factory=Requester)
    subject: str = ""
    priority: str | None = None
    tags: tuple[str, ...] = ()
    status: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ticket:
        return cls(id=str(data["id"]), requester=Requester(**data.get("requester") or {}),
                   subject=str(data.get("subject") or ""), priority=data.get("priority"),
                   tags=tuple(data.get("tags") or ()), status=data.get("status"))


EventKind = Literal["opened", "tagged", "solved", "ignored"]


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """A ticket's change as a helpdesk's webhook tells it: opened (created), tagged (one of the
    tags the installation maps to a reason was added) or solved."""

    kind: EventKind
    ticket: Ticket


@dataclass(frozen=True, slots=True)
class Reply:
    """What Amends posts into a ticket: the apology with the code, as a public reply or an
    internal note (the installation's `reply_as`)."""

    ticket_id: str
    text: str
    html: str | None
    public: bool
    message_id: str  # the delivery's id: the platform's idempotency key where it has one


@dataclass(frozen=True, slots=True)
class Platform:
    """One helpdesk platform.

    - `secrets`: the installation's write-only settings (keys, tokens); `required` those it
      cannot work without.
    - `frame_origins`: the origins that frame the panel on this platform (the page's
      Content-Security-Policy `frame-ancestors`), besides the installation's own.
    - `severity(priority)`: the platform's priority read as a case severity, 1 (minor) to 4
      (the worst; a value outside is brought within).
    - `ticket_url(account, ticket_id)`: the ticket's page in the helpdesk.
    - `post_reply(settings, reply)`: posts into the ticket with the installation's settings
      and secrets (one dict), returning the platform's id of what it posted; raises
      `amends.delivery.channels.DeliveryFailed` to be retried.
    """

    name: str
    title: str
    secrets: tuple[str, ...]
    required: tuple[str, ...]
    frame_origins: tuple[str, ...]
    severity: Callable[[str | None], int]
    ticket_url: Callable[[str, str], str]
    post_reply: Callable[[Mapping[str, Any], Reply], Awaitable[str]]
    # The ticket as the helpdesk's API tells it (its requester, priority, tags), for a
    # platform whose signed request names the agent but not the ticket (Zendesk): the
    # panel's page asks the helpdesk's own script in the browser for the ticket's id only.
    fetch_ticket: Callable[[Mapping[str, Any], str], Awaitable[Ticket]] | None = None
    # The app's package the admin uploads to the helpdesk (Zendesk, Freshdesk, Gorgias): its
    # files by path, made for one installation (`Installed`); None for a platform that needs
    # none (Intercom: its app points at the Canvas Kit URLs).
    package: Callable[[Installed], dict[str, bytes]] | None = None
    # The secrets that name an address Amends calls (an API base URL): checked against the
    # outbound address policy when saved, as channel peers are, and again when connecting.
    peers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Installed:
    """What a package is made for: the installation and the addresses Amends answers on."""

    installation_id: str
    organization: str
    account: str
    name: str
    base_url: str
    urls: Mapping[str, str]


PLATFORMS: dict[str, Platform] = {}


def register(platform: Platform) -> Platform:
    assert platform.name in PLATFORM_NAMES, platform.name
    PLATFORMS[platform.name] = platform
    return platform


def ticket_ref(platform: str, ticket_id: str) -> str:
    """How a case names its ticket: `zendesk:35436` (shown on the case, searched by agents)."""
    return f"{platform}:{ticket_id}"


def ticket_id_of(ref: str) -> str:
    return ref.partition(":")[2] or ref
