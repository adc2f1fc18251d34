"""The route class every router uses: one transaction per request, committed before the
response is sent (so a failed commit never follows a 2xx), and idempotency keys on POST."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from amends.auth import SAFE_METHODS
from amends.config import Settings
from amends.db import Database
from amends.errors import AmendsError
from amends.idempotency import HEADER, run_idempotent


async def writes_on_read() -> None:
    """Marker dependency: this GET route writes (the coupon page records that it was opened),
    so on SQLite its transaction takes the write lock from the start."""


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        writes_on_get = any(d.call is writes_on_read for d in self.dependant.dependencies)

        async def run_in_transaction(request: Request) -> Response:
            db: Database = request.app.state.db
            settings: Settings = request.app.state.settings
            write = writes_on_get or request.method not in SAFE_METHODS
            key = request.headers.get(HEADER) if request.method == "POST" else None
            factory = db.write_sessions if write else db.read_sessions
            async with factory() as session:
                request.state.session = session
                try:
                    if key is not None:
                        response = await run_idempotent(
                            session, request, key, handler,
                            ttl=timedelta(hours=settings.idempotency_key_hours),
                        )
                    else:
                        response = await handler(request)
                    # A session that read or wrote nothing has no transaction to end.
                    if session.in_transaction():
                        if response.status_code >= 400:
                            await session.rollback()
                        else:
                            await session.commit()
                except AmendsError as error:
                    if error.keep_changes:
                        await session.commit()
                    else:
                        await session.rollback()
                    raise
                except BaseException:
                    await session.rollback()
                    raise
            if session.info.pop("jobs_enqueued", False):
                db.jobs_enqueued.set()
            return response

        return run_in_transaction


def router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=TransactionalRoute, **kwargs)
