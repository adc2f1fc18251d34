"""The helpdesk apps' admin page (`/admin/helpdesks`): the organisation's installations with
the addresses to paste into each helpdesk and their package to download, an install form per
platform (its secrets as password fields, never filled back), each installation's settings
(how replies are posted, tags as "tag = reason" lines, origins that may frame the panel, the
default reason), pause and resume, uninstall. Every change goes through the service the API
uses, so it is checked and audited the same."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from amends.actor import Actor
from amends.auth import SessionDep, SettingsDep, require
from amends.cases import service as cases
from amends.errors import AmendsError
from amends.helpdesk import packages
from amends.helpdesk import service as helpdesk
from amends.helpdesk.platforms import PLATFORMS, Platform
from amends.models import HelpdeskInstallation, Organization
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.labels import N_
from amends.web.templating import back, gettext_for, render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
PAGE = "/admin/helpdesks"

# Each address an installation answers on, as the admin looks for it in the helpdesk.
URL_NAMES = {
    "panel": N_("Sidebar (panel) address"),
    "events": N_("Ticket webhook address"),
    "initialize": N_("Canvas Kit initialize URL"),
    "submit": N_("Canvas Kit submit URL"),
}
# What the account is in each helpdesk.
ACCOUNT_HELP = {
    "zendesk": N_("Your Zendesk subdomain: shop for shop.zendesk.com."),
    "freshdesk": N_("Your Freshdesk domain: shop.freshdesk.com."),
    "intercom": N_("Your Intercom workspace id (app id), e.g. ecahpwf5."),
    "gorgias": N_("Your Gorgias domain: shop for shop.gorgias.com."),
}
_PEM = re.compile(r"^\s*(-----BEGIN [A-Z0-9 ]+-----)(.*?)(-----END [A-Z0-9 ]+-----)\s*$",
                  re.DOTALL)
_TAG_LINE = re.compile(r"^\s*([^=]+?)\s*=\s*([^=]+?)\s*$")


class BadLines(ValueError):
    """A "tag = reason" line the admin typed that is not one; its words say which."""


def pem_lines(value: str) -> str:
    """A PEM key pasted into a password field, whose line breaks the browser removes, put
    back into 64-character lines; any other value as it is."""
    found = _PEM.match(value)
    if not found:
        return value
    body = re.sub(r"\s+", "", found.group(2))
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([found.group(1), *lines, found.group(3)]) + "\n"


def tag_lines(text: str, _: Callable[[str], str]) -> dict[str, str]:
    """`tag = reason` lines (empty lines ignored) as the setting's mapping."""
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        found = _TAG_LINE.match(line)
        if not found:
            raise BadLines(_("Line %(line)s: write each tag as tag = reason, e.g. "
                             "amends-late = late_delivery.") % {"line": number})
        mapping[found.group(1)] = found.group(2)
    return mapping


def _secrets_given(platform: Platform, form: Mapping[str, Any]) -> dict[str, str]:
    """The secrets typed in (an empty field keeps the secret set before)."""
    given = {}
    for name in platform.secrets:
        value = str(form.get(f"secret-{name}", "")).strip()
        if value:
            given[name] = pem_lines(value)
    return given


def _settings_given(form: Mapping[str, Any], _: Callable[[str], str]) -> dict[str, Any]:
    return {
        "reply_as": str(form.get("reply_as", "public")),
        "tag_reasons": tag_lines(str(form.get("tag_reasons", "")), _),
        "frame_origins": [line.strip() for line in str(form.get("frame_origins", ""))
                          .splitlines() if line.strip()],
        "default_reason": str(form.get("default_reason", "")).strip(),
    }


def _typed(form: Mapping[str, Any]) -> dict[str, str]:
    """What the admin typed, to show again after a refusal: never a secret."""
    return {k: str(v) for k, v in form.items() if not k.startswith("secret-")
            and k != "csrf_token"}


async def _page(request: Request, session: SessionDep, actor: Actor, settings: SettingsDep,
                *, editing: str | None = None, typed: dict[str, str] | None = None,
                problem: str | None = None, status_code: int = 200) -> Response:
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    base = str(settings.base_url)
    shown = []
    for installation in await helpdesk.list_installations(session, actor):
        platform = PLATFORMS.get(installation.platform)
        effective = helpdesk.effective_settings(installation)
        shown.append({
            "i": installation, "platform": platform,
            "title": platform.title if platform else installation.platform,
            "settings": effective,
            "secrets_set": helpdesk.public(installation)["secrets_set"],
            "urls": helpdesk.urls(base, organization.slug, installation),
            "has_package": platform is not None and packages.needs_package(platform),
            "tag_text": "\n".join(f"{k} = {v}" for k, v in effective["tag_reasons"].items()),
            "origins_text": "\n".join(effective["frame_origins"]),
        })
    return render(request, "admin/helpdesks.html", {
        "installations": shown,
        "platforms": sorted(PLATFORMS.values(), key=lambda p: p.title),
        "reasons": await cases.reasons(session, actor.organization_id),
        "url_names": URL_NAMES, "account_help": ACCOUNT_HELP,
        "default_tags": "\n".join(f"{k} = {v}" for k, v in
                                  helpdesk.DEFAULT_TAG_REASONS.items()),
        "editing": editing, "typed": typed or {}, "problem": problem,
    }, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
async def helpdesks_page(request: Request, session: SessionDep, actor: Admin,
                         settings: SettingsDep) -> Response:
    return await _page(request, session, actor, settings)


async def _refused(request: Request, session: SessionDep, actor: Actor, settings: SettingsDep,
                   *, editing: str, form: Mapping[str, Any], why: str, status: int
                   ) -> Response:
    """Nothing is changed: the page again with what was typed (no secret) and why."""
    await session.rollback()
    _ = gettext_for(request)
    return await _page(request, session, actor, settings, editing=editing, typed=_typed(form),
                       problem=_("Not saved: %(why)s") % {"why": why}, status_code=status)


@router.post(PAGE)
async def install(request: Request, session: SessionDep, actor: Admin,
                  settings: SettingsDep) -> Response:
    _ = gettext_for(request)
    form = await request.form()
    name = str(form.get("platform", ""))
    platform = PLATFORMS.get(name)
    editing = f"new-{name}"
    if platform is None:
        return await _refused(request, session, actor, settings, editing=editing, form=form,
                              why=_("choose a helpdesk."), status=422)
    try:
        chosen = _settings_given(form, _)
        if not chosen["default_reason"]:
            chosen.pop("default_reason")
        created = await helpdesk.create_installation(
            session, actor, platform=name, account=str(form.get("account", "")).strip(),
            name=str(form.get("name", "")), settings=chosen,
            secrets=_secrets_given(platform, form))
    except BadLines as bad:
        return await _refused(request, session, actor, settings, editing=editing, form=form,
                              why=str(bad), status=422)
    except AmendsError as error:
        return await _refused(request, session, actor, settings, editing=editing, form=form,
                              why=error.detail, status=error.status)
    return _back(created.id, notice=_(
        "%(helpdesk)s installed: paste its addresses into %(helpdesk)s as shown below.")
        % {"helpdesk": platform.title})


def _back(installation_id: uuid.UUID, *, notice: str) -> Response:
    """The page again, at the installation's card, with the notice."""
    response = back(PAGE, notice=notice)
    response.headers["location"] += f"#installation-{installation_id}"
    return response


async def _installation(session: SessionDep, actor: Actor, installation_id: uuid.UUID
                        ) -> HelpdeskInstallation:
    return await helpdesk.get_installation(session, actor, installation_id=installation_id)


@router.post(PAGE + "/{installation_id}")
async def change(installation_id: uuid.UUID, request: Request, session: SessionDep,
                 actor: Admin, settings: SettingsDep) -> Response:
    _ = gettext_for(request)
    installation = await _installation(session, actor, installation_id)
    form = await request.form()
    platform = helpdesk.platform_of(installation.platform)
    try:
        await helpdesk.update_installation(
            session, actor, installation_id=installation_id,
            name=str(form.get("name", "")), settings=_settings_given(form, _),
            secrets=_secrets_given(platform, form))
    except BadLines as bad:
        return await _refused(request, session, actor, settings, editing=str(installation_id),
                              form=form, why=str(bad), status=422)
    except AmendsError as error:
        return await _refused(request, session, actor, settings, editing=str(installation_id),
                              form=form, why=error.detail, status=error.status)
    return _back(installation_id, notice=_("%(name)s saved.") % {"name": installation.name})


@router.post(PAGE + "/{installation_id}/active")
async def pause_or_resume(installation_id: uuid.UUID, request: Request, session: SessionDep,
                          actor: Admin) -> Response:
    _ = gettext_for(request)
    form = await request.form()
    active = form.get("active") == "on"
    installation = await helpdesk.update_installation(
        session, actor, installation_id=installation_id, active=active)
    return _back(installation_id, notice=(
        _("%(name)s resumed: the helpdesk's requests are answered again.") if active else
        _("%(name)s paused: the panel and the ticket webhooks are refused until it is "
          "resumed.")) % {"name": installation.name})


@router.post(PAGE + "/{installation_id}/remove")
async def uninstall(installation_id: uuid.UUID, request: Request, session: SessionDep,
                    actor: Admin) -> Response:
    _ = gettext_for(request)
    installation = await _installation(session, actor, installation_id)
    name = installation.name
    await helpdesk.remove_installation(session, actor, installation_id=installation_id)
    return back(PAGE, notice=_("%(name)s uninstalled: its cases keep their ticket "
                               "references.") % {"name": name})


@router.get(PAGE + "/{installation_id}/package.zip")
async def download_package(installation_id: uuid.UUID, session: SessionDep, actor: Admin,
                           settings: SettingsDep) -> Response:
    """The installation's app package, to upload to the helpdesk."""
    installation = await _installation(session, actor, installation_id)
    organization = await session.get(Organization, actor.organization_id)
    assert organization is not None
    made = packages.build(installation, organization_slug=organization.slug,
                          base_url=str(settings.base_url))
    return Response(made.content, media_type="application/zip", headers={
        "content-disposition": f'attachment; filename="{made.filename}"',
        "cache-control": "no-store"})
