"""The Users admin page (/admin/users) and the public page where an invited person chooses a
password (/set-password/{token}). Every change goes through `users.admin`, as the API's do."""

from __future__ import annotations

import uuid
from typing import Annotated

from babel import Locale
from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from amends.actor import Actor
from amends.auth import CSRF_COOKIE, SessionDep, SettingsDep, require
from amends.errors import AmendsError, CsrfFailed
from amends.kit import locale
from amends.kit.secrets import random_token, same
from amends.models import Organization
from amends.roles import Role, Scope
from amends.routing import router as make_router
from amends.users import admin
from amends.users import service as users
from amends.users.schemas import UserInvite, UserUpdate
from amends.web.templating import back, gettext_for, render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
PAGE = "/admin/users"
# The order roles are offered in: from the till to the whole organisation.
ROLES = (Role.CLERK, Role.AGENT, Role.SUPERVISOR, Role.MANAGER, Role.AUDITOR, Role.ADMIN)


def _in_words(error: AmendsError, request: Request) -> str:
    """What went wrong, for the admin reading the page, in their language."""
    _ = gettext_for(request)
    words = {
        "user_exists": _("Someone in the organisation already has this e-mail address."),
        "last_admin": _("This is the last active administrator: make someone else an "
                        "administrator first, so that someone can still manage the "
                        "organisation."),
        "console_language_not_offered": _("Choose one of the languages offered."),
        "user_inactive": _("This person is deactivated: reactivate them first."),
    }
    return words.get(error.code, error.detail)


def _languages() -> list[tuple[str, str]]:
    return [(tag, (Locale.parse(tag).get_display_name(tag) or tag).capitalize())
            for tag in locale.CONSOLE]


async def _page(request: Request, session: SessionDep, actor: Actor,
                link: admin.PasswordLink | None = None, status_code: int = 200) -> Response:
    staff = await admin.list_users(session, actor)
    return render(request, "admin/users.html", {
        "staff": staff, "pending": {user.id for user in staff if admin.pending(user)},
        "roles": [role.value for role in ROLES], "languages": _languages(),
        "teams": sorted({user.team for user in staff if user.team}),
        "stores": sorted({user.store for user in staff if user.store}),
        "link": link, "link_url": str(request.base_url).rstrip("/") + link.path if link else "",
        "hours": admin.LINK_HOURS,
    }, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
async def users_page(request: Request, session: SessionDep, actor: Admin) -> Response:
    """The organisation's staff, an invitation form, and each person's role, team and store."""
    return await _page(request, session, actor)


def _link_notice(request: Request, link: admin.PasswordLink, invited: bool) -> str:
    _ = gettext_for(request)
    if invited:
        return _("%(name)s is invited: the link to choose a password is on its way to "
                 "%(email)s.") % {"name": link.user.name, "email": link.user.email}
    return _("A new link to choose a password is on its way to %(email)s.") % {
        "email": link.user.email}


@router.post(PAGE, response_class=HTMLResponse)
async def invite(request: Request, session: SessionDep, actor: Admin,
                 email: Annotated[str, Form(max_length=320)] = "",
                 name: Annotated[str, Form(max_length=200)] = "",
                 role: Annotated[str, Form(max_length=20)] = "",
                 team: Annotated[str, Form(max_length=100)] = "",
                 store: Annotated[str, Form(max_length=100)] = "",
                 language: Annotated[str, Form(max_length=35)] = "") -> Response:
    """Invite a person; without an e-mail channel their link is shown here, this once."""
    _ = gettext_for(request)
    try:
        body = UserInvite(email=email.strip(), name=name.strip(), role=role,
                          team=team.strip() or None, store=store.strip() or None,
                          locale=language.strip() or None)
    except ValidationError:
        return back(PAGE, problem=_("Give the person's name, a valid e-mail address and "
                                    "a role."))
    try:
        link = await admin.invite_user(session, actor, email=body.email, name=body.name,
                                       role=body.role, team=body.team, store=body.store,
                                       locale=body.locale)
    except AmendsError as error:
        return back(PAGE, problem=_in_words(error, request))
    if link.emailed:
        return back(PAGE, notice=_link_notice(request, link, invited=True))
    return await _page(request, session, actor, link=link)


@router.post(PAGE + "/{user_id}", response_class=HTMLResponse)
async def update(request: Request, user_id: uuid.UUID, session: SessionDep, actor: Admin,
                 role: Annotated[str, Form(max_length=20)] = "",
                 team: Annotated[str, Form(max_length=100)] = "",
                 store: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Change a person's role, team and store (an empty team or store clears it)."""
    _ = gettext_for(request)
    try:
        body = UserUpdate(role=role, team=team.strip() or None, store=store.strip() or None)
    except ValidationError:
        return back(PAGE, problem=_("Choose one of the roles offered."))
    try:
        user = await admin.update_user(session, actor, user_id=user_id,
                                       changes=body.model_dump(exclude_unset=True))
    except admin.UserNotFound:
        raise
    except AmendsError as error:
        return back(PAGE, problem=_in_words(error, request))
    return back(PAGE, notice=_("%(name)s is saved.") % {"name": user.name})


@router.post(PAGE + "/{user_id}/deactivate", response_class=HTMLResponse)
async def deactivate(request: Request, user_id: uuid.UUID, session: SessionDep,
                     actor: Admin) -> Response:
    """Deactivate a person: they are logged out everywhere at once."""
    _ = gettext_for(request)
    try:
        user = await admin.deactivate_user(session, actor, user_id=user_id)
    except admin.UserNotFound:
        raise
    except AmendsError as error:
        return back(PAGE, problem=_in_words(error, request))
    return back(PAGE, notice=_("%(name)s is deactivated and logged out.") % {
        "name": user.name})


@router.post(PAGE + "/{user_id}/reactivate", response_class=HTMLResponse)
async def reactivate(request: Request, user_id: uuid.UUID, session: SessionDep,
                     actor: Admin) -> Response:
    """Let a deactivated person log in again."""
    _ = gettext_for(request)
    user = await admin.reactivate_user(session, actor, user_id=user_id)
    return back(PAGE, notice=_("%(name)s can log in again.") % {"name": user.name})


@router.post(PAGE + "/{user_id}/reset-password", response_class=HTMLResponse)
async def reset_password(request: Request, user_id: uuid.UUID, session: SessionDep,
                         actor: Admin) -> Response:
    """Send a person a new link to choose a password (shown here without an e-mail channel)."""
    try:
        link = await admin.reset_password(session, actor, user_id=user_id)
    except admin.UserNotFound:
        raise
    except AmendsError as error:
        return back(PAGE, problem=_in_words(error, request))
    if link.emailed:
        return back(PAGE, notice=_link_notice(request, link, invited=False))
    return await _page(request, session, actor, link=link)


def _password_page(request: Request, secure: bool, token: str, *, error: str | None = None,
                   done: bool = False, name: str = "", organization: str = "",
                   status_code: int = 200) -> Response:
    # The person is not logged in: the form carries a token that must equal a cookie only
    # this site could have set (double submit), as the login form does.
    csrf = request.cookies.get(CSRF_COOKIE) or random_token(24)
    response = render(request, "users/set_password.html", {
        "token": token, "form_csrf": csrf, "error": error, "done": done, "name": name,
        "organization": organization, "minimum": users.MIN_PASSWORD_LENGTH},
        status_code=status_code)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, secure=secure, samesite="strict",
                        path="/set-password")
    return response


def _link_words(error: AmendsError, request: Request) -> str:
    _ = gettext_for(request)
    if isinstance(error, admin.PasswordLinkExpired):
        return _("This link has expired. Ask your administrator to send you a new one.")
    return _("This link was already used or is not valid. Ask your administrator for a new "
             "one, or log in if you already chose your password.")


@router.get("/set-password/{token}", response_class=HTMLResponse)
async def set_password_page(request: Request, token: str, session: SessionDep,
                            settings: SettingsDep) -> Response:
    """Where an invited person (or one whose password was reset) chooses a password."""
    try:
        user = await admin.user_for_link(session, token)
    except (admin.PasswordLinkInvalid, admin.PasswordLinkExpired) as error:
        return _password_page(request, settings.cookie_secure, token,
                              error=_link_words(error, request), status_code=error.status)
    return _password_page(request, settings.cookie_secure, token, name=user.name)


@router.post("/set-password/{token}", response_class=HTMLResponse)
async def set_password(request: Request, token: str, session: SessionDep,
                       settings: SettingsDep,
                       password: Annotated[str, Form(max_length=1000)] = "",
                       repeated: Annotated[str, Form(max_length=1000)] = "",
                       csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Choose the password, once; then the person logs in with it."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not same(cookie, csrf_token):
        raise CsrfFailed()
    _ = gettext_for(request)
    secure = settings.cookie_secure
    if password != repeated:
        return _password_page(request, secure, token, status_code=422,
                              error=_("The two passwords are not the same."))
    try:
        user = await admin.set_password(session, token=token, password=password)
    except users.WeakPassword:
        return _password_page(request, secure, token, status_code=422, error=_(
            "Use at least %(count)d characters.") % {"count": users.MIN_PASSWORD_LENGTH})
    except (admin.PasswordLinkInvalid, admin.PasswordLinkExpired) as error:
        return _password_page(request, secure, token, error=_link_words(error, request),
                              status_code=error.status)
    # The login form asks for the organisation's short name, which the person may not know.
    found = await session.get(Organization, user.organization_id)
    return _password_page(request, secure, token, done=True, name=user.name,
                          organization=found.slug if found else "")
