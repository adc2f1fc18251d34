"""The brand through the API: `GET`/`PUT /v1/organization/brand` (the name customers read, the
sender of e-mails, the colour, the support contact) and `PUT`/`DELETE .../brand/logo`."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Request
from pydantic import (
    AfterValidator,
    BaseModel,
    EmailStr,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from amends.auth import AdminCaller, Authenticated, MissingScope, SessionDep
from amends.errors import errors
from amends.kit.schema import Input
from amends.models import BrandLogo, Organization
from amends.organizations import brand_service
from amends.organizations.brand import brand_of
from amends.organizations.brand_service import BrandColorTooLight
from amends.organizations.logos import (
    ACCEPTED,
    MAX_BYTES,
    LogoTooLarge,
    LogoTooManyPixels,
    LogoTypeNotSupported,
    LogoUnreadable,
    check_type,
    too_large,
)
from amends.routing import router as make_router

router = make_router(prefix="/v1/organization/brand", tags=["organisation"])

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(value: str) -> str:
    # A name goes into an e-mail's From header and an SMS: a line break there would forge
    # headers or split the message.
    value = value.strip()
    if not value:
        raise PydanticCustomError("empty_text", "must not be blank")
    if _CONTROL.search(value):
        raise PydanticCustomError("control_character",
                                  "must be one line without control characters")
    return value


def _color(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise PydanticCustomError("invalid_color", "must be a colour written #rrggbb")
    return value.lower()


def _phone(value: str) -> str:
    compact = re.sub(r"[\s().-]", "", value)
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", compact):
        raise PydanticCustomError(
            "invalid_phone", "must be an international number in E.164 form, e.g. +33142680000")
    return compact


_URL = TypeAdapter(HttpUrl)


def _https(text: str) -> str:
    try:
        value = _URL.validate_python(text)
    except ValidationError:
        raise PydanticCustomError("invalid_url", "must be a web address") from None
    if value.scheme != "https":
        raise PydanticCustomError("insecure_url", "must be an https:// address")
    # An international domain is stored in its longer ASCII form (punycode).
    if len(str(value)) > 400:
        raise PydanticCustomError("url_too_long", "must be at most 400 characters")
    return str(value)


OneLine = Annotated[str, Field(max_length=200), AfterValidator(_one_line)]
Email = Annotated[EmailStr, Field(max_length=320)]
Color = Annotated[str, Field(max_length=7, examples=["#1f3a5f"]), AfterValidator(_color)]
Phone = Annotated[str, Field(max_length=24, examples=["+33142680000"]), AfterValidator(_phone)]
HttpsUrl = Annotated[str, Field(max_length=400), AfterValidator(_https)]


class BrandIn(Input):
    """The whole brand: a field left out or null is cleared and falls back to its default."""

    display_name: OneLine | None = Field(
        default=None, description="The name customers read; default the organisation's name")
    sender_name: OneLine | None = Field(
        default=None, description="The name e-mails come from; default the display name")
    sender_email: Email | None = Field(default=None,
                                       description="The address e-mails come from")
    reply_to: Email | None = Field(default=None, description="Where replies to e-mails go")
    brand_color: Color | None = Field(
        default=None, description="#rrggbb; white text on it must have a WCAG contrast of at "
        "least 4.5:1. Default #1f3a5f")
    support_email: Email | None = None
    support_phone: Phone | None = Field(default=None, description="E.164, e.g. +33142680000")
    support_url: HttpsUrl | None = Field(default=None, description="An https:// address")


class LogoOut(BaseModel):
    sha256: str
    url: str = Field(description="Public, cached for a year: a new logo has a new address")
    width: int
    height: int
    content_type: str


class BrandShown(BaseModel):
    """What customers see once defaults are applied."""

    name: str
    sender_name: str
    color: str


class BrandOut(BaseModel):
    display_name: str | None
    sender_name: str | None
    sender_email: str | None
    reply_to: str | None
    brand_color: str | None
    support_email: str | None
    support_phone: str | None
    support_url: str | None
    logo: LogoOut | None
    shown: BrandShown


def _out(organization: Organization, logo: BrandLogo | None) -> BrandOut:
    brand = brand_of(organization)
    path = brand.logo_path(organization.slug)
    return BrandOut(
        **{name: getattr(organization, name) for name in brand_service.BRAND_FIELDS},
        logo=LogoOut(sha256=logo.sha256, url=path, width=logo.width, height=logo.height,
                     content_type=logo.content_type) if logo is not None and path else None,
        shown=BrandShown(name=brand.name, sender_name=brand.sender_name, color=brand.color))


async def _brand(session: SessionDep, organization: Organization) -> BrandOut:
    return _out(organization, await brand_service.current_logo(session, organization))


@router.get("", responses=errors())
async def get_brand(session: SessionDep, actor: Authenticated) -> BrandOut:
    """The brand as set, its logo, and what customers see after defaults."""
    return await _brand(session, await brand_service.organization_of(session, actor))


@router.put("", responses=errors(MissingScope, BrandColorTooLight))
async def put_brand(body: BrandIn, session: SessionDep, actor: AdminCaller) -> BrandOut:
    """Replace the brand (admin): the display name, e-mail sender and reply-to, colour and
    support contact. A full replacement: a field left out or null is cleared and falls back to
    its default (send what `GET` returned, changed). The logo has its own routes. A colour too
    light for white text answers 422 `brand_color_too_light`; malformed fields answer 422
    `validation_failed` with each field's error `type` (`invalid_color`, `invalid_phone`,
    `insecure_url`, `control_character` ...). Audited as `organization.brand_updated`."""
    organization = await brand_service.replace_brand(
        session, actor, fields=body.model_dump(mode="json"))
    return await _brand(session, organization)


@router.put(
    "/logo",
    responses=errors(MissingScope, LogoTypeNotSupported, LogoTooLarge, LogoTooManyPixels,
                     LogoUnreadable),
    openapi_extra={"requestBody": {"required": True, "content": {
        kind: {"schema": {"type": "string", "format": "binary"}} for kind in ACCEPTED}}},
)
async def put_logo(request: Request, session: SessionDep, actor: AdminCaller) -> BrandOut:
    """Upload the logo (admin) as the raw request body, with `Content-Type` image/png,
    image/jpeg or image/webp (not multipart). At most 512 KB and 2048x2048 pixels; it must
    decode completely. It is stored re-encoded as a PNG without metadata, at most 512 pixels a
    side, and served publicly at
    `logo.url` (`/brand/<slug>/<sha256>.png`). Refusals: 415 `logo_type_not_supported` (SVG
    included), 413 `logo_too_large`, 422 `logo_too_many_pixels` or `logo_unreadable`; nothing
    changes then. Audited as `organization.logo_set`."""
    check_type(request.headers.get("content-type"))  # before reading a body of the wrong kind
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_BYTES:
            raise too_large()
    organization, logo = await brand_service.set_logo(
        session, actor, data=bytes(received), content_type=request.headers.get("content-type"))
    return _out(organization, logo)


@router.delete("/logo", responses=errors(MissingScope))
async def delete_logo(session: SessionDep, actor: AdminCaller) -> BrandOut:
    """Remove the logo (admin): pages, e-mails and passes show the name alone, and no logo of
    the organisation is served any more, in messages already sent too. Audited as
    `organization.logo_removed`."""
    organization = await brand_service.remove_logo(session, actor)
    return _out(organization, None)
