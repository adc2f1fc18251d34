"""The organisation settings page (admins): every setting the product reads on one page, in
groups (gestures and approvals, messages, language and time, brand and logo). Each form is
checked by the API's own schema and saved by the API's own service function, so the page and
`PATCH /v1/organization` / `PUT /v1/organization/brand` accept and refuse the same values,
and record the same audit events."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le
from babel import Locale
from babel.numbers import format_decimal
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from amends.actor import Actor
from amends.auth import SessionDep, require
from amends.errors import AmendsError, NotFound
from amends.incentives import service as incentives
from amends.kit import locale
from amends.kit.money import parse_major
from amends.models import Organization
from amends.organizations import brand_service
from amends.organizations import service as organizations
from amends.organizations.brand import brand_of
from amends.organizations.brand_api import BrandIn
from amends.organizations.logos import MAX_BYTES, too_large
from amends.organizations.schemas import OrganizationUpdate
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import back, console_locale, gettext_for, render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
PAGE = "/admin/settings"

# The groups of the page and the settings each form sends.
GROUPS: dict[str, tuple[str, ...]] = {
    "gestures": ("second_gesture_window_days", "approval_hours", "approval_tiers",
                 "approval_sla_minutes", "average_order_value",
                 "automation_daily_budget", "surprise_incentive_id",
                 "incident_approval_threshold", "holdout_percent_default",
                 "learn_min_outcomes"),
    "messages": ("reminder_days", "feedback_delay_days", "thank_you_window_days",
                 "sms_max_segments"),
    "language": ("default_locale", "supported_locales", "time_zone"),
}
# Written in major units on the page, stored in minor units.
AMOUNTS = frozenset({"average_order_value", "automation_daily_budget",
                     "incident_approval_threshold"})
# Left empty, these are cleared (no limit, no surprise gesture) rather than refused.
EMPTY_IS_NONE = frozenset({"automation_daily_budget", "surprise_incentive_id",
                           "approval_sla_minutes"})
# Ticked boxes: the whole list is sent, none ticked is an empty list (refused where needed).
LISTS = frozenset({"supported_locales", "approval_tiers"})
DEFAULT_COLOR = "#1f3a5f"


class SettingsGroupNotFound(NotFound):
    code, title = "settings_group_not_found", "No such group of settings"


@cache
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _bounds(name: str) -> tuple[int | None, int | None]:
    if name == "learn_min_outcomes":
        return 1, 10**6
    low = high = None
    for rule in OrganizationUpdate.model_fields[name].metadata:
        if isinstance(rule, Ge):
            low = int(rule.ge)  # type: ignore[call-overload]
        elif isinstance(rule, Gt):
            low = int(rule.gt) + 1  # type: ignore[call-overload]
        elif isinstance(rule, Le):
            high = int(rule.le)  # type: ignore[call-overload]
    return low, high


def _in_words(error: dict[str, Any], name: str, _: Callable[[str], str],
              tag: str) -> str:
    """A pydantic error as a sentence for the field's reader."""
    kind = error["type"]
    if name in AMOUNTS and kind in ("int_parsing", "int_type"):
        return _("Write an amount such as 50 or 49.90.")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        known = name in OrganizationUpdate.model_fields or name == "learn_min_outcomes"
        low, high = _bounds(name) if known else (None, None)
        where = locale.babel_locale(tag)
        if low is not None and high is not None:
            if name in AMOUNTS:
                return _("Enter an amount up to %(high)s.") % {
                    "high": format_decimal(Decimal(high).scaleb(-2), locale=where)}
            return _("Enter a number from %(low)s to %(high)s.") % {
                "low": format_decimal(low, locale=where),
                "high": format_decimal(high, locale=where)}
    messages = {
        "int_parsing": _("Enter a whole number."), "int_type": _("Enter a whole number."),
        "missing": _("This cannot be empty."),
        "invalid_color": _("Write the colour as #rrggbb."),
        "invalid_phone": _("Write an international number, e.g. +33142680000."),
        "insecure_url": _("Use an https:// address."),
        "invalid_url": _("Enter a web address starting with https://."),
        "url_too_long": _("This address is too long."),
        "control_character": _("Write it on one line."),
        "empty_text": _("This cannot be blank."),
        "string_too_long": _("This is too long."),
        "too_short": _("Tick at least one."),
        "tiers_out_of_order": _("Tick at least one tier."),
        "uuid_parsing": _("Choose one from the list."),
        "literal_error": _("Choose one from the list."),
    }
    if kind in messages:
        return messages[kind]
    if name in ("sender_email", "reply_to", "support_email"):
        return _("Enter an e-mail address, e.g. help@example.com.")
    if name in ("default_locale", "supported_locales", "time_zone"):
        return _("Choose one from the list.")
    return str(error.get("msg", kind))


def _errors_of(problem: ValidationError, _: Callable[[str], str], tag: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in problem.errors():
        place = [str(p) for p in error["loc"] if isinstance(p, str)]
        name = place[-1] if place and place[0] == "recommendation_rules" else (
            place[0] if place else "")
        found.setdefault(name, _in_words(dict(error), name, _, tag))
    return found


def _amount(minor: int | None, tag: str) -> str:
    return "" if minor is None else format_decimal(Decimal(minor).scaleb(-2), "0.00",
                                                   locale=locale.babel_locale(tag))


def _values(organization: Organization, tag: str) -> dict[str, Any]:
    """What each field of the page shows: the settings as stored."""
    values: dict[str, Any] = {
        name: getattr(organization, name) for names in GROUPS.values() for name in names
        if name != "learn_min_outcomes"}
    for name in AMOUNTS:
        values[name] = _amount(getattr(organization, name), tag)
    values["surprise_incentive_id"] = organization.surprise_incentive_id or ""
    values["approval_sla_minutes"] = organization.approval_sla_minutes or ""
    values["learn_min_outcomes"] = (organization.recommendation_rules or {}).get(
        "learn_min_outcomes", "")
    for name in brand_service.BRAND_FIELDS:
        values[name] = getattr(organization, name) or ""
    values["brand_color"] = organization.brand_color or DEFAULT_COLOR
    return values


async def _page(request: Request, session: SessionDep, actor: Actor, *,
                submitted: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                status_code: int = 200) -> Response:
    organization = await organizations.of(session, actor)
    tag = console_locale(request)
    logo = await brand_service.current_logo(session, organization)
    brand = brand_of(organization)
    return render(request, "admin/settings.html", {
        "values": {**_values(organization, tag), **(submitted or {})},
        "errors": errors or {}, "currency": organization.default_currency,
        "incentives": await incentives.list_incentives(session, actor),
        "shipped": [(tag_, Locale.parse(tag_).get_display_name(
            locale.babel_locale(tag)) or tag_) for tag_ in locale.SHIPPED],
        "zones": time_zones(),
        "logo": logo, "logo_path": brand.logo_path(organization.slug) if logo else None,
        "shown_name": brand.name}, status_code=status_code)


@router.get("/admin/settings", response_class=HTMLResponse)
async def settings_page(request: Request, session: SessionDep, actor: Admin) -> Response:
    return await _page(request, session, actor)


def _setting_fields(group: str, form: FormData) -> dict[str, Any]:
    """The form's fields as the API's body: amounts to minor units, empties cleared."""
    body: dict[str, Any] = {}
    for name in GROUPS[group]:
        if name in LISTS:
            body[name] = [v for v in form.getlist(name) if isinstance(v, str)]
            continue
        raw = form.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        if name in EMPTY_IS_NONE and not text:
            body[name] = None
        elif name in AMOUNTS and text:
            body[name] = parse_major(text)  # ValueError: the caller words it
        else:
            body[name] = text
    return body


@router.post("/admin/settings/{group}", response_class=HTMLResponse)
async def save_settings(group: str, request: Request, session: SessionDep, actor: Admin
                        ) -> Response:
    """One group of settings, through `update_settings` (the API's PATCH)."""
    if group not in GROUPS:
        raise SettingsGroupNotFound()
    _ = gettext_for(request)
    tag = console_locale(request)
    form = await request.form()
    submitted: dict[str, Any] = {
        name: (form.getlist(name) if name in LISTS else form.get(name, ""))
        for name in GROUPS[group]}
    try:
        body = _setting_fields(group, form)
    except ValueError:
        bad = {n: _("Write an amount such as 50 or 49.90.") for n in AMOUNTS
               if n in GROUPS[group] and _not_amount(form.get(n))}
        return await _page(request, session, actor, submitted=submitted, errors=bad,
                           status_code=422)
    if "learn_min_outcomes" in body:
        learn = body.pop("learn_min_outcomes")
        organization = await organizations.of(session, actor)
        rules = dict(organization.recommendation_rules or {})
        if learn:
            rules["learn_min_outcomes"] = learn
        else:
            rules.pop("learn_min_outcomes", None)  # empty: back to the default
        body["recommendation_rules"] = rules
    try:
        update = OrganizationUpdate.model_validate(body)
        await organizations.update_settings(session, actor, update=update)
    except ValidationError as problem:
        return await _page(request, session, actor, submitted=submitted,
                           errors=_errors_of(problem, _, tag), status_code=422)
    except AmendsError as problem:
        await session.rollback()
        return await _page(request, session, actor, submitted=submitted,
                           errors={str(problem.extra.get("field", "")): problem.detail},
                           status_code=problem.status)
    return back(PAGE, notice=_("Settings saved."))


def _not_amount(value: object) -> bool:
    try:
        parse_major(value if isinstance(value, str) else "")
    except ValueError:
        return True
    return False


@router.post("/admin/settings-brand", response_class=HTMLResponse)
async def save_brand(request: Request, session: SessionDep, actor: Admin) -> Response:
    """The brand, through `replace_brand` (the API's PUT)."""
    _ = gettext_for(request)
    form = await request.form()
    submitted = {name: form.get(name, "") for name in brand_service.BRAND_FIELDS}
    fields = {name: (value.strip() or None) if isinstance(value, str) else None
              for name, value in submitted.items()}
    try:
        brand = BrandIn.model_validate(fields)
        await brand_service.replace_brand(session, actor, fields=brand.model_dump(mode="json"))
    except ValidationError as problem:
        return await _page(request, session, actor, submitted=submitted,
                           errors=_errors_of(problem, _, console_locale(request)),
                           status_code=422)
    except AmendsError as problem:
        await session.rollback()
        return await _page(request, session, actor, submitted=submitted,
                           errors={str(problem.extra.get("field", "")): problem.detail},
                           status_code=problem.status)
    return back(PAGE, notice=_("Brand saved: new messages and coupon pages use it."))


@router.post("/admin/settings-logo")
async def upload_logo(request: Request, session: SessionDep, actor: Admin) -> Response:
    """The logo, through `set_logo` (the API's PUT .../logo): the same checks and refusals."""
    _ = gettext_for(request)
    form = await request.form(max_part_size=MAX_BYTES + 1024)
    upload = form.get("logo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return back(PAGE, problem=_("Choose a PNG, JPEG or WebP file for the logo."))
    data = await upload.read(MAX_BYTES + 1)
    try:
        if len(data) > MAX_BYTES:
            raise too_large()
        await brand_service.set_logo(session, actor, data=data,
                                     content_type=upload.content_type)
    except AmendsError as problem:
        await session.rollback()
        return back(PAGE, problem=problem.detail)
    return back(PAGE, notice=_("Logo saved."))


@router.post("/admin/settings-logo/remove")
async def remove_logo(request: Request, session: SessionDep, actor: Admin) -> Response:
    """No logo any more, through `remove_logo` (the API's DELETE .../logo)."""
    await brand_service.remove_logo(session, actor)
    return back(PAGE, notice=gettext_for(request)("Logo removed."))
