"""The audit log page (admins): filter by actor, action, object and dates (in the reader's
zone), page through, open an entry to read its before and after side by side, and download
the filtered entries as CSV (the API's export)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from amends.actor import Actor
from amends.audit import service as audit
from amends.auth import SessionDep, require
from amends.kit.locale import zone
from amends.models import ApiKey, User
from amends.roles import Scope
from amends.routing import router as make_router
from amends.web.templating import console_zone, render

router = make_router(include_in_schema=False)
Admin = Annotated[Actor, Depends(require(Scope.ADMIN))]
PAGE_SIZE = 50


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _start_of(day: date | None, zone_name: str | None) -> datetime | None:
    """Midnight of `day` in the reader's zone, as an instant."""
    return None if day is None else datetime.combine(day, time(), tzinfo=zone(zone_name))


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


async def _actors(session: SessionDep, actor: Actor) -> dict[str, str]:
    """Who may appear in the log: the organisation's people and API keys."""
    people = (await session.execute(select(User.id, User.name, User.email).where(
        User.organization_id == actor.organization_id).order_by(User.name))).all()
    keys = (await session.execute(select(ApiKey.id, ApiKey.name).where(
        ApiKey.organization_id == actor.organization_id).order_by(ApiKey.name))).all()
    return {**{str(p.id): f"{p.name} ({p.email})" for p in people},
            **{str(k.id): f"API key {k.name}" for k in keys}}


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_page(request: Request, session: SessionDep, actor: Admin,
                     who: Annotated[str, Query(max_length=36)] = "",
                     action: Annotated[str, Query(max_length=100)] = "",
                     object_type: Annotated[str, Query(max_length=60)] = "",
                     object_id: Annotated[str, Query(max_length=100)] = "",
                     since: Annotated[str, Query(max_length=10)] = "",
                     until: Annotated[str, Query(max_length=10)] = "",
                     cursor: Annotated[str, Query(max_length=100)] = "") -> Response:
    zone_name = console_zone(request)
    try:
        actor_id = uuid.UUID(who) if who else None
    except ValueError:
        actor_id = None
    first, last = _day(since), _day(until)
    start = _start_of(first, zone_name)
    # The last day is included: up to the next midnight.
    end = _start_of(last + timedelta(days=1), zone_name) if last else None
    filters = audit.Filters(action=action.strip() or None,
                            object_type=object_type.strip() or None,
                            object_id=object_id.strip() or None, actor_id=actor_id,
                            since=start, until=end)
    page = await audit.list_events(
        session, actor, action=filters.action, object_type=filters.object_type,
        object_id=filters.object_id, actor_id=filters.actor_id, since=filters.since,
        until=filters.until, cursor=cursor or None, limit=PAGE_SIZE)
    shown = {"who": who if actor_id else "", "action": action, "object_type": object_type,
             "object_id": object_id, "since": first.isoformat() if first else "",
             "until": last.isoformat() if last else ""}
    kept = {k: v for k, v in shown.items() if v}
    export = {k: v for k, v in {
        "action": filters.action, "object_type": filters.object_type,
        "object_id": filters.object_id, "actor_id": str(actor_id) if actor_id else None,
        "since": start.isoformat() if start else None,
        "until": end.isoformat() if end else None}.items() if v}
    return render(request, "admin/audit.html", {
        "events": page.items, "filters": shown, "actors": await _actors(session, actor),
        "next_page": f"/admin/audit?{urlencode({**kept, 'cursor': page.next_cursor})}"
        if page.next_cursor else None,
        "first_page": f"/admin/audit?{urlencode(kept)}" if cursor else None,
        "csv": "/v1/audit-events.csv" + (f"?{urlencode(export)}" if export else "")})


@router.get("/admin/audit/{event_id}", response_class=HTMLResponse)
async def audit_entry(event_id: uuid.UUID, request: Request, session: SessionDep,
                      actor: Admin) -> Response:
    event = await audit.get_event(session, actor, event_id=event_id)
    before, after = event.before or {}, event.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    rows = [{"key": key,
             "before": _pretty(before[key]) if key in before else None,
             "after": _pretty(after[key]) if key in after else None,
             "changed": before.get(key) != after.get(key) or (key in before) != (key in after)}
            for key in keys]
    return render(request, "admin/audit_entry.html", {
        "event": event, "rows": rows,
        "before": _pretty(event.before) if event.before is not None else None,
        "after": _pretty(event.after) if event.after is not None else None})
