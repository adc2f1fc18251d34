"""The brand's public files: the logo (`/brand/<slug>/<sha256>.png`) and the colour as a
style sheet (`/brand/<slug>/<rrggbb>.css`), which the coupon page, e-mails and wallet passes
load from this origin.

Both addresses name their content (the logo's hash, the colour itself), so they are cached for
a year as immutable: a new logo or colour is a new address. The colour comes as a style sheet
because the pages' Content-Security-Policy allows styles from this origin only, no inline
`style` (web/headers.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request
from fastapi.responses import Response

from amends.auth import SessionDep
from amends.errors import NotFound
from amends.organizations import brand_service
from amends.organizations.brand import brand_of, tint
from amends.routing import router as make_router

router = make_router(include_in_schema=False)

# https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/Cache-Control#immutable
FOREVER = "public, max-age=31536000, immutable"


class ThemeNotFound(NotFound):
    code, title = "brand_theme_not_found", "No such brand colour"


def _not_modified(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match", "")
    return wanted.strip() == "*" or etag in (tag.strip().removeprefix("W/")
                                             for tag in wanted.split(","))


def _cached(request: Request, body: bytes, media_type: str, etag: str) -> Response:
    headers = {"Cache-Control": FOREVER, "ETag": etag}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/brand/{organization_slug}/{sha256}.png")
async def brand_logo(
    organization_slug: str, sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
    request: Request, session: SessionDep,
) -> Response:
    """The organisation's logo by its content hash, for anyone (customers' pages and e-mails).
    """
    logo = await brand_service.stored_logo(session, organization_slug=organization_slug,
                                           sha256=sha256)
    return _cached(request, logo.data, logo.content_type, f'"{logo.sha256}"')


@router.get("/brand/{organization_slug}/{color}.css")
async def brand_theme(
    organization_slug: str, color: Annotated[str, Path(pattern=r"^[0-9a-f]{6}$")],
    request: Request, session: SessionDep,
) -> Response:
    """The brand colour as CSS custom properties: `--brand` (white text on it is readable),
    `--brand-tint` (a pale background in its hue). Only the organisation's current colour."""
    organization = await brand_service.organization_by_slug(session, organization_slug)
    if organization is None or brand_of(organization).color.lower() != f"#{color}":
        raise ThemeNotFound("There is no such brand colour.")
    css = f":root {{ --brand: #{color}; --brand-tint: {tint(f'#{color}')}; }}\n"
    return _cached(request, css.encode(), "text/css", f'"{color}"')
