"""The profile page: the console's language and the zone its dates are shown in, chosen by
each member of staff for themselves."""

from __future__ import annotations

from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from babel import Locale
from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from amends.auth import Authenticated, SessionDep
from amends.kit import locale
from amends.kit.translations import translations
from amends.models import Organization
from amends.routing import router as make_router
from amends.users import service as users
from amends.web.templating import DOMAIN, back, gettext_for, render

router = make_router(include_in_schema=False)


def _languages() -> list[tuple[str, str]]:
    # Each language written in itself ("Français"), as language pickers do: a person who
    # cannot read the current one still finds their own.
    return [(tag, (Locale.parse(tag).get_display_name(tag) or tag).capitalize())
            for tag in locale.CONSOLE]


@cache
def _zones() -> list[str]:
    # The zones people pick by city; the aliases and POSIX-style names the tz database also
    # carries (US/Eastern, Etc/GMT+1, posixrules) stay valid through the API.
    cities = {name for name in available_timezones()
              if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix",
                                                        "right/"))}
    return ["UTC", *sorted(cities)]


@router.get("/profile", response_class=HTMLResponse)
async def profile(request: Request, session: SessionDep, actor: Authenticated) -> Response:
    """The logged-in person's language and time zone."""
    me = await users.me(session, actor)
    organization = await session.get(Organization, actor.organization_id)
    return render(request, "users/profile.html", {
        "me": me, "languages": _languages(),
        "chosen_language": locale.language_of(me.locale) if me.locale else "",
        "zones": _zones(),
        "organization_zone": organization.time_zone if organization else "UTC",
    })


@router.post("/profile")
async def save_profile(request: Request, session: SessionDep, actor: Authenticated,
                       language: Annotated[str, Form(max_length=35)] = "",
                       time_zone: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Save the language and zone; the next page is already in the chosen language."""
    try:
        me = await users.set_preferences(session, actor, changes={
            "locale": language.strip() or None, "time_zone": time_zone.strip() or None})
    except (users.ConsoleLanguageNotOffered, users.UnknownTimeZone) as error:
        _ = gettext_for(request)
        problem = (_("Choose one of the languages offered.")
                   if isinstance(error, users.ConsoleLanguageNotOffered)
                   else _("Choose a time zone from the list, such as Europe/Paris."))
        return back("/profile", problem=problem)
    now_in = me.locale or locale.from_accept_language(
        request.headers.get("accept-language"), locale.CONSOLE)
    return back("/profile", notice=translations(DOMAIN, now_in).gettext("Preferences saved."))
