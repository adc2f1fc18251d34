from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends

from amends.actor import Actor
from amends.auth import MissingScope, SessionDep, require
from amends.errors import ValidationFailed, errors
from amends.events import schemas
from amends.events import service as events
from amends.roles import Scope
from amends.routing import router as make_router

router = make_router(tags=["events"])
Sender = Annotated[Actor, Depends(require(Scope.EVENTS_WRITE))]


class BatchTooLarge(ValidationFailed):
    code, title = "batch_too_large", f"At most {schemas.MAX_BATCH} events a request"


class InvalidEvent(ValidationFailed):
    code, title = "invalid_event", "The event is not valid"


@router.post("/v1/events", responses=errors(MissingScope, BatchTooLarge, InvalidEvent))
async def post_events(session: SessionDep, actor: Sender,
                      body: Annotated[dict[str, Any], Body(
                          description="One event {id, type, occurred_at, data}, or "
                                      "{\"events\": [...]} with up to 1,000")]
                      ) -> schemas.IngestResult:
    """Order and shipment events. Each is stored once by its `id`; bad events in a batch are
    listed in `errors` and the good ones kept."""
    single = "events" not in body
    if not single and set(body) != {"events"}:
        unknown = sorted(set(body) - {"events"})
        raise InvalidEvent(f"A batch is {{\"events\": [...]}} alone; unknown: "
                           f"{', '.join(unknown)}.",
                           errors=[{"field": name, "message": "Extra inputs are not permitted",
                                    "type": "extra_forbidden"} for name in unknown])
    raw = [body] if single else body["events"]
    if not isinstance(raw, list):
        raise InvalidEvent("`events` must be a list.")
    if len(raw) > schemas.MAX_BATCH:
        raise BatchTooLarge(f"Split the {len(raw)} events into batches.")
    outcome = await events.ingest(session, actor, raw)
    if single and outcome.errors:
        error = outcome.errors[0]
        raise InvalidEvent(error.detail, event_code=error.code,
                           errors=events.field_errors(body))
    return schemas.IngestResult(accepted=outcome.accepted, duplicates=outcome.duplicates,
                                errors=outcome.errors)
