"""Login, logout and the landing page of the console."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from amends.actor import Actor
from amends.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Authenticated,
    SessionDep,
    SettingsDep,
)
from amends.customers import service as customers
from amends.customers.views import new_customer_form
from amends.errors import CsrfFailed, TooManyAttempts
from amends.kit.client import client_address, limit_bucket
from amends.kit.ratelimit import RateLimiter, get_limiter, hidden
from amends.kit.secrets import random_token, same
from amends.models import Organization
from amends.roles import Scope
from amends.routing import router as make_router
from amends.users import service as users
from amends.web.overview import overview
from amends.web.templating import N_, gettext_for, render

router = make_router(include_in_schema=False)
_WRONG_LOGIN = N_("Wrong organisation, email or password.")
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]


def _safe_next(target: str | None) -> str:
    if not target:
        return "/"
    try:
        parsed = urlparse(target)
    except ValueError:  # an unbalanced [ or ] around a host: not one of our pages
        return "/"
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(request: Request, settings_secure: bool, *, error: str | None = None,
                status_code: int = 200, form: dict[str, str] | None = None) -> Response:
    token = request.cookies.get(CSRF_COOKIE) or random_token(24)
    response = render(
        request, "login.html",
        {"login_csrf": token, "error": error, "form": form or {},
         "next": _safe_next(request.query_params.get("next"))},
        status_code=status_code,
    )
    response.set_cookie(CSRF_COOKIE, token, httponly=True, secure=settings_secure,
                        samesite="lax", path="/login")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, settings: SettingsDep) -> Response:
    return _login_page(request, settings.cookie_secure)


@router.post("/login", response_class=HTMLResponse)
async def log_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    organization: Annotated[str, Form()],
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not same(cookie, csrf_token):
        raise CsrfFailed()
    account = hidden("\n".join(users.login_identity(organization, email)))
    address = limit_bucket(client_address(request.scope))
    # The account's own budget holds whatever the address: rotating addresses cannot reset it,
    # and a right password while any budget is spent does not log in.
    budgets = [("login", f"login:{account}:{address}"), ("login_address", f"login:ip:{address}"),
               ("login_account", f"login:account:{account}")]
    spent = await limiter.first_spent(budgets)
    if spent is not None:
        _ = gettext_for(request)
        raise TooManyAttempts(_("Too many failed logins; wait and try again."),
                              retry_after=await limiter.retry_after(*spent))
    try:
        login = await users.log_in(
            session, organization_slug=organization, email=email, password=password,
            hours=settings.session_hours,
        )
    except users.InvalidCredentials:
        await limiter.hit_all(budgets)
        return _login_page(
            request, settings.cookie_secure,
            error=gettext_for(request)(_WRONG_LOGIN),
            status_code=401, form={"organization": organization, "email": email},
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE, login.token, max_age=settings.session_hours * 3600, httponly=True,
        secure=settings.cookie_secure, samesite="lax", path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def log_out(session: SessionDep, actor: Authenticated) -> Response:
    await users.log_out(session, actor)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _organization(session: SessionDep, actor: Actor) -> Organization | None:
    return await session.get(Organization, actor.organization_id)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: SessionDep, actor: Authenticated,
               q: str = "") -> Response:
    """The console's start: what needs attention, recent cases, and customer search by
    anything an agent has at hand, each result saying what matched (a clerk, who works the
    till only, starts at the till)."""
    if not actor.can(Scope.CASES_READ) and actor.can(Scope.REDEMPTIONS_WRITE):
        return RedirectResponse("/till", status_code=303)
    found = await customers.search_customers(session, actor, query=q) if q.strip() else []
    return render(request, "home.html", {
        "actor": actor, "organization": await _organization(session, actor),
        "overview": await overview(session, actor), "query": q, "found": found,
        # Nobody found: the form that creates the customer and opens their case.
        "new_customer": await new_customer_form(request, session, actor, query=q)
        if q.strip() and not found else None,
    })
