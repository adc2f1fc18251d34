"""The admin pages of delivery: the channels (a form per channel built from its settings
schema, secrets write-only, a test message sent at once, the last failures) and the message
templates (every kind in every locale of the organisation, an editor with a live preview on
sample values, reset to the shipped wording). Every change goes through the service the API
uses, so it is checked and audited the same."""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from amends.actor import Actor
from amends.auth import SessionDep, SettingsDep, require
from amends.delivery import configuration
from amends.delivery import service as delivery
from amends.delivery.schemas import CHANNEL_SETTINGS
from amends.delivery.wording import KINDS
from amends.errors import AmendsError, NotFound
from amends.kit import locale as kit_locale
from amends.kit import outbound
from amends.models import Organization
from amends.outbox.views import MAIL_POLICY
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import LABELS, N_
from amends.web.templating import back, gettext_for, render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
Text = Annotated[str, Form(max_length=50000)]

# Each setting as a person reads it: its name and what to put in it.
FIELDS: dict[str, tuple[str, str]] = {
    "host": (N_("SMTP server"), N_("The mail server's name, e.g. smtp.example.com.")),
    "port": (N_("Port"), N_("587 for STARTTLS, 465 for TLS.")),
    "security": (N_("Security"), N_("How the connection to the server is protected.")),
    "username": (N_("User name"), N_("To log in to the server, if it asks.")),
    "password": (N_("Password"), N_("To log in to the server, if it asks.")),
    "from_address": (N_("Sender"),
                     N_("Name and address, e.g. Retailer <care@retailer.example>; the brand's "
                        "sender, when set, comes first.")),
    "timeout": (N_("Timeout"), N_("Seconds to wait for each answer of the server.")),
    "max_connections": (N_("Connections"),
                        N_("Connections each worker keeps open to the server (8 if empty).")),
    "rate_per_second": (N_("Messages per second"),
                        N_("The most an incident sends each second on this channel (no "
                           "limit if empty).")),
    "account_sid": (N_("Account SID"), N_("Your SMS provider's account, e.g. AC0123...")),
    "auth_token": (N_("Auth token"), N_("Your SMS provider's secret token.")),
    "from_number": (N_("Sender number"), N_("The number messages come from, e.g. +33612345678.")),
    "base_url": (N_("Provider address"), N_("The provider's API address.")),
    "email": (N_("Agent e-mail"), N_("The helpdesk user that posts the comments.")),
    "api_token": (N_("API token"), N_("The helpdesk's API token for that user.")),
    "url": (N_("Address"), N_("Where the signed messages are posted.")),
    "secret": (N_("Signing secret"),
               N_("Signs each message (Standard Webhooks), e.g. whsec_...")),
}
OPTIONS = {"starttls": N_("STARTTLS (port 587)"), "tls": N_("TLS (port 465)"),
           "none": N_("None (local servers only)")}
# The message kinds as people read them.
KIND_NAMES = {
    "gesture": N_("Gesture"), "reminder": N_("Reminder"), "apology": N_("Apology"),
    "incident_apology": N_("Incident apology"), "progress": N_("Progress"),
    "feedback": N_("Feedback request"), "thank_you": N_("Thank-you"),
    "reinstatement": N_("Reinstatement"),
}
TEMPLATE_CHANNELS = ("email", "sms", "whatsapp", "helpdesk", "webhook", "copy")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    help: str
    kind: Literal["text", "number", "password", "select"]
    step: str
    required: bool
    options: tuple[tuple[str, str], ...]
    default: str


def _plain(annotation: Any) -> Any:
    """The type under `X | None` and `Annotated[...]`."""
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def fields_of(channel: str, _: Callable[[str], str]) -> list[Field]:
    """The channel's form, from its settings schema: each field's kind from its type."""
    found = []
    for name, info in CHANNEL_SETTINGS[channel].model_fields.items():
        plain = _plain(info.annotation)
        label, help_text = FIELDS.get(name, (name, info.description or ""))
        options: tuple[tuple[str, str], ...] = ()
        kind: Literal["text", "number", "password", "select"] = "text"
        if name in configuration.SECRETS:
            kind = "password"
        elif get_origin(plain) is Literal:
            kind = "select"
            options = tuple((str(v), _(OPTIONS.get(str(v), str(v)))) for v in get_args(plain))
        elif plain in (int, float):
            kind = "number"
        default = "" if info.is_required() or info.default is None else str(info.default)
        found.append(Field(name=name, label=_(label), help=_(help_text) if help_text else "",
                           kind=kind, step="1" if plain is int else "any",
                           required=info.is_required(), options=options, default=default))
    return found


def _limit(message: str) -> str:
    return message.rsplit(" ", 1)[-1]


def error_in_words(error: dict[str, Any], _: Callable[[str], str]) -> str:
    """A setting's error as the page says it, in the reader's language where the kind of
    error is known, else in the words of the check."""
    kind, message = error.get("type", ""), str(error.get("message", ""))
    said = {
        "missing": _("Required."), "string_too_short": _("Required."),
        "string_too_long": _("Too long."),
        "int_parsing": _("A whole number, such as 587."),
        "int_from_float": _("A whole number, such as 587."),
        "float_parsing": _("A number, such as 2.5."),
        "literal_error": _("Choose one of the options."),
        "extra_forbidden": _("Not a setting of this channel."),
    }.get(kind)
    if said:
        return said
    bounds = {"less_than_equal": _("At most %(limit)s."),
              "greater_than_equal": _("At least %(limit)s."),
              "greater_than": _("More than %(limit)s."),
              "less_than": _("Less than %(limit)s.")}.get(kind)
    return bounds % {"limit": _limit(message)} if bounds else message


async def _channels_page(request: Request, session: SessionDep, actor: Actor, *,
                         editing: str | None = None, values: dict[str, str] | None = None,
                         errors: dict[str, str] | None = None, problem: str | None = None
                         ) -> Response:
    _ = gettext_for(request)
    stored = {c.channel: c for c in await configuration.list_channels(session, actor)}
    cards = []
    for channel in CHANNEL_SETTINGS:
        config = stored.get(channel)
        typed = values if channel == editing else None
        shown = {k: str(v) for k, v in (config.settings if config else {}).items()
                 if k not in configuration.SECRETS}
        cards.append({
            "channel": channel, "config": config,
            "fields": fields_of(channel, _),
            "values": typed if typed is not None else shown,
            "secrets_set": {k for k in configuration.SECRETS if config and k in config.settings},
            "errors": errors if channel == editing else {},
            "failures": await configuration.recent_failures(session, actor, channel=channel),
        })
    context: dict[str, Any] = {"cards": cards}
    if problem:
        context["problem"] = problem
    return render(request, "admin/channels.html", context,
                  status_code=422 if errors or problem else 200)


@router.get("/admin/channels", response_class=HTMLResponse)
async def channels_page(request: Request, session: SessionDep, actor: Admin) -> Response:
    return await _channels_page(request, session, actor)


def _known_channel(channel: str) -> None:
    if channel not in CHANNEL_SETTINGS:
        raise NotFound("No such channel.")


@router.post("/admin/channels/{channel}")
async def save_channel(channel: str, request: Request, session: SessionDep, actor: Admin,
                       settings: SettingsDep) -> Response:
    _known_channel(channel)
    _ = gettext_for(request)
    form = await request.form()
    names = CHANNEL_SETTINGS[channel].model_fields
    typed = {name: str(form.get(name, "")).strip() for name in names}
    stored = await configuration.get_channel(session, actor, channel=channel)
    given = configuration.keeping_secrets({k: v for k, v in typed.items() if v}, stored)
    kept = {k: v for k, v in typed.items() if k not in configuration.SECRETS}
    try:
        await delivery.save_channel(session, actor, channel=channel, settings=given,
                                    active=form.get("active") == "on",
                                    allow_private=settings.outbound_allow_private)
    except delivery.InvalidChannelSettings as invalid:
        await session.rollback()
        errors = {str(e["field"]).removeprefix("settings."): error_in_words(e, _)
                  for e in invalid.extra.get("errors", [])}
        return await _channels_page(request, session, actor, editing=channel, values=kept,
                                    errors=errors,
                                    problem=_("The settings were not saved: check the fields "
                                              "marked below."))
    except (outbound.OutboundAddressRefused, outbound.InvalidOutboundUrl) as refused:
        await session.rollback()
        field = str(refused.extra.get("field", "")).removeprefix("settings.")
        errors = {field: _("Amends connects only to public addresses: %(detail)s")
                  % {"detail": refused.detail}}
        return await _channels_page(request, session, actor, editing=channel, values=kept,
                                    errors=errors,
                                    problem=_("The settings were not saved: check the fields "
                                              "marked below."))
    return back("/admin/channels", notice=_("%(channel)s saved.") % {
        "channel": _(_channel_name(channel))})


def _channel_name(channel: str) -> str:
    return LABELS.get(channel, channel)


@router.post("/admin/channels/{channel}/test")
async def test_channel(channel: str, request: Request, session: SessionDep, actor: Admin,
                       settings: SettingsDep, to: Annotated[str, Form(max_length=320)]
                       ) -> Response:
    _known_channel(channel)
    _ = gettext_for(request)
    try:
        result = await configuration.send_test(
            session, actor, channel=channel, to=to.strip(),
            allow_private=settings.outbound_allow_private,
            subject=_("Test message from {brand}"),
            text=_("This is a test message from {brand}, sent through Amends to check the "
                   "{channel} channel. No action is needed."))
    except delivery.ChannelNotConfigured:
        return back("/admin/channels", problem=_("Save the channel's settings first."))
    except configuration.InvalidTestAddress:
        return back("/admin/channels", problem=(
            _("Give an e-mail address such as ann@example.com.") if channel == "email" else
            _("Give a phone number in international form, such as +33612345678.")))
    name = _(_channel_name(channel))
    if result.ok:
        return back("/admin/channels", notice=_(
            "%(channel)s: the test message to %(to)s was accepted (%(detail)s).")
            % {"channel": name, "to": to.strip(), "detail": result.detail})
    return back("/admin/channels", problem=_(
        "%(channel)s: the test message to %(to)s was not sent. The provider said: %(detail)s")
        % {"channel": name, "to": to.strip(), "detail": result.detail})


@router.post("/admin/channels/{channel}/remove")
async def remove_channel(channel: str, request: Request, session: SessionDep, actor: Admin
                         ) -> Response:
    _known_channel(channel)
    _ = gettext_for(request)
    try:
        await configuration.remove_channel(session, actor, channel=channel)
    except configuration.ChannelNotFound:
        return back("/admin/channels", problem=_("That channel is not set up."))
    return back("/admin/channels", notice=_(
        "%(channel)s removed: its messages are refused until it is set up again.")
        % {"channel": _(_channel_name(channel))})


# Templates


async def _locales(session: SessionDep, actor: Actor) -> list[str]:
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    found = list(organization.supported_locales or [kit_locale.DEFAULT])
    default = organization.default_locale or kit_locale.DEFAULT
    return found if default in found else [default, *found]


@router.get("/admin/templates", response_class=HTMLResponse)
async def templates_page(request: Request, session: SessionDep, actor: Admin,
                         channel: str = "email") -> Response:
    if channel not in TEMPLATE_CHANNELS:
        channel = "email"
    own = await configuration.customised(session, actor)
    return render(request, "admin/templates.html", {
        "channel": channel, "channels": TEMPLATE_CHANNELS, "kinds": KINDS,
        "kind_names": KIND_NAMES, "locales": await _locales(session, actor),
        "own": {(kind, locale) for kind, ch, locale in own if ch == channel}})


def _key(channel: str, kind: str, locale: str) -> str:
    if channel not in TEMPLATE_CHANNELS or kind not in KINDS:
        raise NotFound("No such message.")
    try:
        return kit_locale.canonical(locale)
    except ValueError as bad:
        raise NotFound("No such locale.") from bad


def _edit_url(channel: str, kind: str, locale: str) -> str:
    return f"/admin/templates/{channel}/{kind}/{locale}"


@dataclass(frozen=True, slots=True)
class Draft:
    subject: str
    body_text: str
    body_html: str | None


async def _preview(request: Request, session: SessionDep, actor: Actor, *, channel: str,
                   locale: str, draft: Draft) -> dict[str, Any]:
    """The preview's context: the rendered draft, or why it does not render, in words."""
    _ = gettext_for(request)
    try:
        preview = await configuration.preview_draft(
            session, actor, channel=channel, locale=locale, subject=draft.subject,
            body_text=draft.body_text, body_html=draft.body_html)
    except AmendsError as problem:
        lead = {"template_too_large": _("The message would be too long."),
                "template_too_complex": _("The template takes too many steps to render.")
                }.get(problem.code, _("The template does not render."))
        return {"preview": None, "preview_problem": f"{lead} {problem.detail}"}
    return {"preview": preview, "preview_problem": None}


async def _editor(request: Request, session: SessionDep, actor: Actor, *, channel: str,
                  kind: str, locale: str, draft: Draft | None = None,
                  problem: str | None = None) -> Response:
    wording = await configuration.effective_wording(session, actor, kind=kind,
                                                    channel=channel, language=locale)
    shown = draft or Draft(wording.subject, wording.body_text, wording.body_html)
    context = {"channel": channel, "kind": kind, "locale": locale,
               "kind_name": KIND_NAMES[kind], "customised": wording.customised,
               "draft": shown, "action": _edit_url(channel, kind, locale),
               **await _preview(request, session, actor, channel=channel, locale=locale,
                                draft=shown)}
    if problem:
        context["problem"] = problem
    return render(request, "admin/template_edit.html", context,
                  status_code=422 if problem else 200)


@router.get("/admin/templates/{channel}/{kind}/{locale}", response_class=HTMLResponse)
async def edit_template(channel: str, kind: str, locale: str, request: Request,
                        session: SessionDep, actor: Admin) -> Response:
    locale = _key(channel, kind, locale)
    return await _editor(request, session, actor, channel=channel, kind=kind, locale=locale)


@router.post("/admin/templates/{channel}/{kind}/{locale}/preview",
             response_class=HTMLResponse)
async def preview_template(channel: str, kind: str, locale: str, request: Request,
                           session: SessionDep, actor: Admin, body_text: Text,
                           subject: Annotated[str, Form(max_length=300)] = "",
                           body_html: Text = "") -> Response:
    """The preview panel alone (htmx swaps it in as the admin types)."""
    locale = _key(channel, kind, locale)
    draft = Draft(subject, body_text, body_html or None)
    return render(request, "admin/_template_preview.html", {
        "channel": channel, **await _preview(request, session, actor, channel=channel,
                                             locale=locale, draft=draft)})


@router.post("/admin/templates/{channel}/{kind}/{locale}/html", response_class=HTMLResponse)
async def preview_html(channel: str, kind: str, locale: str, request: Request,
                       session: SessionDep, actor: Admin, body_text: Text,
                       subject: Annotated[str, Form(max_length=300)] = "",
                       body_html: Text = "") -> Response:
    """The draft's HTML part alone, shown in a sandboxed frame as a mail program shows it:
    its inline styles and images allowed, no script (the page's own policy forbids inline
    styles, so the frame has a policy of its own)."""
    locale = _key(channel, kind, locale)
    found = await _preview(request, session, actor, channel=channel, locale=locale,
                           draft=Draft(subject, body_text, body_html or None))
    html = found["preview"].html if found["preview"] is not None else None
    return HTMLResponse(html or "", headers={"Content-Security-Policy": MAIL_POLICY})


@router.post("/admin/templates/{channel}/{kind}/{locale}")
async def save_template(channel: str, kind: str, locale: str, request: Request,
                        session: SessionDep, actor: Admin, body_text: Text,
                        subject: Annotated[str, Form(max_length=300)] = "",
                        body_html: Text = "") -> Response:
    locale = _key(channel, kind, locale)
    _ = gettext_for(request)
    draft = Draft(subject.strip(), body_text, body_html or None)
    try:
        await configuration.save_template(
            session, actor, kind=kind, channel=channel, language=locale, incentive_id=None,
            subject=draft.subject, body_text=draft.body_text, body_html=draft.body_html)
    except AmendsError as problem:
        await session.rollback()
        return await _editor(request, session, actor, channel=channel, kind=kind,
                             locale=locale, draft=draft,
                             problem=_("Not saved: %(detail)s") % {"detail": problem.detail})
    return back(_edit_url(channel, kind, locale), notice=_(
        "Saved: customers reading %(locale)s receive this wording from now on.")
        % {"locale": locale})


@router.post("/admin/templates/{channel}/{kind}/{locale}/reset")
async def reset_template(channel: str, kind: str, locale: str, request: Request,
                         session: SessionDep, actor: Admin) -> Response:
    locale = _key(channel, kind, locale)
    _ = gettext_for(request)
    try:
        await configuration.reset_template(session, actor, kind=kind, channel=channel,
                                           language=locale, incentive_id=None)
    except configuration.TemplateNotFound:
        return back(_edit_url(channel, kind, locale),
                    problem=_("This message already uses the default wording."))
    return back(_edit_url(channel, kind, locale),
                notice=_("Reset: this message uses the default wording again."))
