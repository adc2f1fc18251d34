"""Jinja2 templates for the console, and the HTML rendering of errors.

Every page is rendered in one language: the logged-in user's (their profile), else the
browser's `Accept-Language` among the console's languages, else English. Templates translate
with `{% trans %}` and `_()` (Jinja's i18n extension, new style: `_("%(n)s cases", n=3)`), and
write dates, times, numbers and amounts with the filters below, in the reader's locale and
zone. Python code that builds a sentence for a page (a notice, a form error) translates it
with `gettext_for(request)`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from babel.support import NullTranslations
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from amends.kit import locale
from amends.kit.translations import translations as catalogue
from amends.web.labels import N_ as N_  # re-exported: views mark their labels with it
from amends.web.labels import in_sentence, label

if TYPE_CHECKING:
    from amends.errors import AmendsError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.add_extension("jinja2.ext.i18n")
# Without a request (a template rendered on its own) the English source text is shown; each
# render puts its own language's functions in the context, and context values win over these
# globals when a template looks a name up.
templates.env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]

DOMAIN = "console"
LOCALE_KEY = "console_locale"
ZONE_KEY = "console_zone"
TRANSLATIONS_KEY = "console_translations"


def console_locale(request: Request) -> str:
    """The console language of this request: the user's own choice, else the browser's."""
    user = getattr(request.state, "user", None)
    chosen = getattr(user, "locale", None)
    if chosen and locale.language_of(chosen) in locale.CONSOLE:
        return str(chosen)
    return locale.from_accept_language(request.headers.get("accept-language"), locale.CONSOLE)


def console_zone(request: Request) -> str | None:
    """The zone dates are shown in: the user's, else their organisation's (UTC without a
    logged-in user)."""
    user = getattr(request.state, "user", None)
    return getattr(user, "time_zone", None)


def translations_for(request: Request) -> NullTranslations:
    return catalogue(DOMAIN, console_locale(request))


def gettext_for(request: Request) -> Callable[[str], str]:
    """`_ = gettext_for(request)` then `_("Case closed.")`: a sentence for this request's page."""
    return translations_for(request).gettext


def number_for(request: Request) -> Callable[[int | float | Decimal], str]:
    """`number(12345)` -> '12,345' / '12 345' for this request's page."""
    tag = console_locale(request)
    return lambda value: locale.number(value, tag)


def money_for(request: Request) -> Callable[[int, str], str]:
    """`money(1000, "EUR")` -> '€10.00' / '10,00 €' for this request's page."""
    tag = console_locale(request)
    return lambda minor, currency: locale.money(minor, currency, tag)


# Jinja's new-style gettext, bound per render rather than installed on the shared environment
# (jinja2/ext.py `_make_new_gettext`, https://jinja.palletsprojects.com/en/3.1.x/extensions/
# #new-style-gettext): the result is escaped when autoescaping and always %-formatted with
# the keyword arguments.
def _newstyle(found: NullTranslations) -> dict[str, Any]:
    @pass_context
    def gettext(context: Context, message: str, /, **variables: Any) -> str:
        text = found.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, count: int, /,
                 **variables: Any) -> str:
        variables.setdefault("num", count)
        text = found.ngettext(singular, plural, count)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"gettext": gettext, "_": gettext, "ngettext": ngettext}


def _translated(context: Context, text: str) -> str:
    found = context.get(TRANSLATIONS_KEY)
    return found.gettext(text) if isinstance(found, NullTranslations) else text


@pass_context
def words(context: Context, key: str | None) -> str:
    """A stored key for people, in their language: 'late_delivery' -> 'Retard de livraison'."""
    return _translated(context, label(key))


@pass_context
def midwords(context: Context, key: str | None) -> str:
    """A channel's name inside a sentence, in the reader's language: 'email' -> 'e-mail'."""
    return _translated(context, in_sentence(key))


@pass_context
def translated(context: Context, text: str | None) -> str:
    """Text that may be one of the catalogue's messages (a default reason's label), shown
    translated when it is and as it is otherwise (an organisation's own wording)."""
    return _translated(context, text) if text else "—"


@pass_context
def money_filter(context: Context, minor: int | None, currency: str = "") -> str:
    """`{{ 1000|money("EUR") }}` -> '10,00 €' for a French reader, '€10.00' for an English one."""
    if minor is None:
        return "—"
    if not currency:
        return locale.number(Decimal(minor).scaleb(-2), context.get(LOCALE_KEY))
    return locale.money(minor, currency, context.get(LOCALE_KEY))


@pass_context
def amount_filter(context: Context, major: float) -> str:
    """An example amount as the reader types it, without a currency: 42.5 -> '42.50' / '42,50'
    (the forms read both)."""
    return format_decimal(major, "0.00", locale=locale.babel_locale(context.get(LOCALE_KEY)))


@pass_context
def number_filter(context: Context, value: int | float | Decimal | None) -> str:
    return "—" if value is None else locale.number(value, context.get(LOCALE_KEY))


@pass_context
def percent_filter(context: Context, ratio: float | None) -> str:
    """0.425 -> '42.5%' / '42,5 %'."""
    if ratio is None:
        return "—"
    return format_percent(ratio, "#,##0.0%", locale=locale.babel_locale(context.get(LOCALE_KEY)))


def _moment(value: datetime | str) -> datetime:
    # Snapshots kept as JSON (an approval's customer history) hold ISO 8601 text.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@pass_context
def points_filter(context: Context, ratio: float | None) -> str:
    """A difference of two rates in percentage points, signed: 0.032 -> '+3.2' / '+3,2'."""
    if ratio is None:
        return "—"
    return format_decimal(ratio * 100, "+#,##0.0;-#,##0.0",
                          locale=locale.babel_locale(context.get(LOCALE_KEY)))


@pass_context
def day_filter(context: Context, day: date | str | None) -> str:
    """A calendar day (a report's row, no time and so no zone): '2027-01-30' -> '30 janv. 2027'."""
    if not day:
        return "—"
    found = date.fromisoformat(day) if isinstance(day, str) else day
    return format_date(found, "medium", locale=locale.babel_locale(context.get(LOCALE_KEY)))


@pass_context
def datetime_filter(context: Context, moment: datetime | str | None) -> str:
    """'30 janvier 2027, 03:48' in the reader's zone."""
    if not moment:
        return "—"
    return locale.date_time(_moment(moment), context.get(LOCALE_KEY), context.get(ZONE_KEY))


@pass_context
def date_filter(context: Context, moment: datetime | str | None) -> str:
    """'30 janvier 2027' in the reader's zone."""
    if not moment:
        return "—"
    return locale.date(_moment(moment), context.get(LOCALE_KEY), context.get(ZONE_KEY))


templates.env.filters.update({
    "money": money_filter, "number": number_filter, "percent": percent_filter,
    "points": points_filter, "day": day_filter, "amount": amount_filter,
    "datetime": datetime_filter, "date": date_filter, "words": words, "midwords": midwords,
    "label": translated,
})


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           *, status_code: int = 200, headers: dict[str, str] | None = None,
           translations: NullTranslations | None = None) -> HTMLResponse:
    """Render a page in the request's console language, or in `translations` when given
    (the coupon page passes its customer's)."""
    found = translations if translations is not None else translations_for(request)
    ctx = {
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "actor": getattr(request.state, "actor", None),
        "notice": request.query_params.get("notice"),
        "problem": request.query_params.get("problem"),
        LOCALE_KEY: console_locale(request),
        ZONE_KEY: console_zone(request),
        TRANSLATIONS_KEY: found,
        **_newstyle(found),
        **(context or {}),
    }
    return templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=headers
    )


def render_error_page(request: Request, error: AmendsError, *, headers: dict[str, str]
                      ) -> Response:
    if error.status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return render(request, "error.html", {"error": error}, status_code=error.status,
                  headers=headers)


def back(path: str, *, notice: str | None = None, problem: str | None = None) -> Response:
    """Redirect after a form (POST/redirect/GET), with a message for the next page."""
    query = urlencode({k: v for k, v in (("notice", notice), ("problem", problem)) if v})
    return RedirectResponse(f"{path}?{query}" if query else path, status_code=303)
