"""Apple's pass web service, one per organisation at `<base>/wallet/apple/<organisation id>`
(the pass's webServiceURL), so that every request reaches one shard.

Endpoints and answers as Apple documents them
(https://developer.apple.com/documentation/walletpasses/adding-a-web-service-to-update-passes):
- POST   v1/devices/{device}/registrations/{passType}/{serial}, body {"pushToken"}:
  201 registered, 200 already registered, 401 without the pass's `ApplePass` token;
- DELETE v1/devices/{device}/registrations/{passType}/{serial}: 200, 401;
- GET    v1/devices/{device}/registrations/{passType}?passesUpdatedSince=tag:
  {"serialNumbers": [...], "lastUpdated": "tag"}, or 204 when nothing changed;
- GET    v1/passes/{passType}/{serial}: the latest pass with Last-Modified, 304 when not
  modified since If-Modified-Since, 401;
- POST   v1/log, body {"logs": [...]}: what devices report, written to our log.

The update tag is the organisation's pass update number (`service.next_update_tag`), given in
commit order, so "passes updated since n" never misses a change committed after a device read
n.
"""

from __future__ import annotations

import logging
import uuid
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field
from sqlalchemy import delete, select

from amends.auth import SessionDep
from amends.errors import AmendsError, NotFound
from amends.integrations.apple_wallet.pkpass import CONTENT_TYPE
from amends.kit.schema import Input
from amends.kit.secrets import same, token_tenant
from amends.kit.sql import get_or_insert
from amends.models import WalletPass, WalletRegistration
from amends.routing import router as make_router
from amends.wallet import passes, service

log = logging.getLogger("amends.wallet")
router = make_router(prefix="/wallet/apple/{organization_id}/v1", include_in_schema=False)

DeviceId = Annotated[str, Path(min_length=1, max_length=100)]
PassType = Annotated[str, Path(min_length=1, max_length=255)]
Serial = Annotated[str, Path(min_length=1, max_length=100)]


class PassNotAuthorized(AmendsError):
    status, code, title = 401, "pass_not_authorized", "The pass's authentication token is wrong"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "ApplePass"}


class PassNotFound(NotFound):
    code, title = "pass_not_found", "No such pass"


class Registration(Input):
    pushToken: str = Field(min_length=1, max_length=200)  # Apple's name


class DeviceLogs(Input):
    logs: list[Annotated[str, Field(max_length=2000)]] = Field(max_length=100)


async def _pass_type(session: SessionDep, organization_id: uuid.UUID, pass_type: str) -> None:
    wallet = await service.apple_wallet(session, organization_id)
    if wallet is None or wallet.pass_type_identifier != pass_type:
        raise PassNotFound()


async def _authorised(session: SessionDep, organization_id: uuid.UUID, pass_type: str,
                      serial: str, authorization: str | None) -> WalletPass:
    """The pass, when the request carries its token (`Authorization: ApplePass <token>`)."""
    if token_tenant(serial) != organization_id:
        raise PassNotAuthorized()
    await _pass_type(session, organization_id, pass_type)
    found = await session.scalar(select(WalletPass).where(
        WalletPass.organization_id == organization_id, WalletPass.serial_number == serial))
    scheme, _, token = (authorization or "").partition(" ")
    if found is None or scheme != "ApplePass" or not same(token.strip(),
                                                          found.authentication_token):
        raise PassNotAuthorized()
    return found


@router.post("/devices/{device_id}/registrations/{pass_type}/{serial}")
async def register_device(organization_id: uuid.UUID, device_id: DeviceId, pass_type: PassType,
                          serial: Serial, body: Registration, session: SessionDep,
                          authorization: Annotated[str | None, Header()] = None) -> Response:
    """A device asks to be told of the pass's changes: 201, or 200 when it already was (its
    push token is updated)."""
    wallet_pass = await _authorised(session, organization_id, pass_type, serial, authorization)
    row, created = await get_or_insert(
        session, WalletRegistration,
        key={"organization_id": organization_id, "device_id": device_id,
             "pass_id": wallet_pass.id},
        values={"push_token": body.pushToken})
    if not created and row.push_token != body.pushToken:
        row.push_token = body.pushToken
        await session.flush()
    return Response(status_code=201 if created else 200)


@router.delete("/devices/{device_id}/registrations/{pass_type}/{serial}")
async def unregister_device(organization_id: uuid.UUID, device_id: DeviceId,
                            pass_type: PassType, serial: Serial, session: SessionDep,
                            authorization: Annotated[str | None, Header()] = None
                            ) -> Response:
    """The pass was removed from the device: no more notifications for it there."""
    wallet_pass = await _authorised(session, organization_id, pass_type, serial, authorization)
    await session.execute(
        delete(WalletRegistration)
        .where(WalletRegistration.organization_id == organization_id,
               WalletRegistration.device_id == device_id,
               WalletRegistration.pass_id == wallet_pass.id)
        .execution_options(synchronize_session=False))
    return Response(status_code=200)


@router.get("/devices/{device_id}/registrations/{pass_type}")
async def updated_serials(organization_id: uuid.UUID, device_id: DeviceId, pass_type: PassType,
                          session: SessionDep,
                          passesUpdatedSince: Annotated[  # Apple's name
                              str | None, Query(max_length=40)] = None) -> Response:
    """The serial numbers of the device's passes changed since the tag it last got, and the
    tag to send next time; 204 when none changed."""
    await _pass_type(session, organization_id, pass_type)
    since = int(passesUpdatedSince) if passesUpdatedSince and \
        passesUpdatedSince.isdigit() else None
    query = (select(WalletPass.serial_number, WalletPass.update_tag)
             .join(WalletRegistration, (WalletRegistration.organization_id
                                        == WalletPass.organization_id)
                   & (WalletRegistration.pass_id == WalletPass.id))
             .where(WalletPass.organization_id == organization_id,
                    WalletRegistration.device_id == device_id))
    if since is not None:
        query = query.where(WalletPass.update_tag > since)
    rows = (await session.execute(query.order_by(WalletPass.serial_number))).all()
    if not rows:
        return Response(status_code=204)
    newest = max(tag for _, tag in rows)
    # A string: Wallet ignores a number here.
    return JSONResponse({"serialNumbers": [serial for serial, _ in rows],
                         "lastUpdated": str(max(newest, since or 0))})


@router.get("/passes/{pass_type}/{serial}")
async def latest_pass(organization_id: uuid.UUID, pass_type: PassType, serial: Serial,
                      request: Request, session: SessionDep,
                      authorization: Annotated[str | None, Header()] = None) -> Response:
    """The pass as it is now, or 304 when it has not changed since `If-Modified-Since`."""
    wallet_pass = await _authorised(session, organization_id, pass_type, serial, authorization)
    modified = wallet_pass.updated_at.replace(microsecond=0)
    since = request.headers.get("if-modified-since")
    if since:
        try:
            if modified <= parsedate_to_datetime(since):
                return Response(status_code=304, headers={
                    "Last-Modified": format_datetime(modified, usegmt=True)})
        except (TypeError, ValueError):
            pass  # an unreadable date: answer the pass
    coupon = await passes.coupon_of_pass(session, wallet_pass)
    built = await passes.apple_bundle(
        session, coupon, base_url=str(request.app.state.settings.base_url))
    if built is None:
        raise PassNotFound()
    return Response(built[0], media_type=CONTENT_TYPE, headers={
        "Last-Modified": format_datetime(modified, usegmt=True), "Cache-Control": "no-store"})


@router.post("/log")
async def device_log(organization_id: uuid.UUID, body: DeviceLogs) -> Response:
    """Errors a device met with this web service, for whoever runs it."""
    for line in body.logs:
        log.info("wallet device log", extra={"organization_id": str(organization_id),
                                             "device_log": line})
    return Response(status_code=200)


