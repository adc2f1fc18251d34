"""Jinja2 templates for the console, and the HTML rendering of errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from amends.kit.money import format_minor

if TYPE_CHECKING:
    from amends.errors import AmendsError

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def words(key: str | None) -> str:
    """A stored key for people: 'late_delivery' -> 'Late delivery'."""
    return (key or "—").replace("_", " ").capitalize()


templates.env.filters["money"] = format_minor
templates.env.filters["words"] = words


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    ctx = {
        "user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "actor": getattr(request.state, "actor", None),
        "notice": request.query_params.get("notice"),
        "problem": request.query_params.get("problem"),
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
