"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute

from amends import __version__
from amends.apikeys.api import router as api_keys_router
from amends.apikeys.views import router as api_keys_views_router
from amends.approvals.api import router as approvals_router
from amends.approvals.views import router as approvals_views_router
from amends.audit.api import router as audit_router
from amends.audit.views import router as audit_views_router
from amends.cases.api import router as cases_router
from amends.codepools.api import router as code_pools_router
from amends.config import Settings, get_settings
from amends.coupons.api import router as coupons_router
from amends.customers.api import router as customers_router
from amends.customers.views import router as customer_views_router
from amends.db import Database
from amends.delivery.admin_views import router as delivery_admin_router
from amends.delivery.api import router as delivery_router
from amends.errors import install_error_handlers
from amends.events.api import router as events_router
from amends.exports.api import router as exports_router
from amends.helpdesk.admin_views import router as helpdesk_admin_router
from amends.helpdesk.api import router as helpdesk_router
from amends.helpdesk.panel import router as helpdesk_panel_router
from amends.incentives.api import router as incentives_router
from amends.incentives.views import router as catalogue_router
from amends.incidents.api import router as incidents_router
from amends.incidents.views import router as incident_views_router
from amends.integrations import helpdesks
from amends.jobs.api import router as jobs_router
from amends.jobs.loader import load_job_kinds
from amends.jobs.worker import Worker
from amends.kit.client import ClientAddresses
from amends.kit.ratelimit import RateLimiter
from amends.migrate import head_revision
from amends.ops.api import router as ops_router
from amends.ops.logging import tag_records_with_request_id
from amends.ops.middleware import RequestContextMiddleware
from amends.organizations.api import router as organization_router
from amends.organizations.brand_api import router as brand_router
from amends.organizations.brand_assets import router as brand_assets_router
from amends.organizations.views import router as settings_views_router
from amends.outbox.catcher import start_catcher
from amends.outbox.receivers import router as outbox_receivers_router
from amends.outbox.store import Outbox
from amends.outbox.views import router as outbox_views_router
from amends.outcomes.views import router as outcomes_views_router
from amends.recovery.api import router as rules_router
from amends.recovery.views import router as rules_views_router
from amends.redemptions.api import router as redemptions_router
from amends.redemptions.views import router as till_router
from amends.reports.api import router as reports_router
from amends.reports.views import router as dashboard_router
from amends.shops.api import router as shops_router
from amends.shops.views import router as shops_views_router
from amends.suppressions.api import router as suppressions_router
from amends.users.admin_views import router as users_admin_router
from amends.users.api import router as users_router
from amends.users.views import router as profile_router
from amends.wallet.api import router as wallet_router
from amends.wallet.views import router as wallet_views_router
from amends.wallet.web_service import router as wallet_web_service_router
from amends.web.admin import router as admin_router
from amends.web.case_views import router as case_views_router
from amends.web.coupon_page import router as coupon_page_router
from amends.web.headers import SecurityHeaders
from amends.web.templating import HERE as WEB_DIR
from amends.web.views import router as web_router
from amends.webhooks.api import router as webhooks_router
from amends.webhooks.views import router as webhooks_views_router


def create_app(settings: Settings | None = None, *, run_worker: bool | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = Database(settings)
    load_job_kinds()
    tag_records_with_request_id()
    embedded = settings.embedded_worker if run_worker is None else run_worker
    outbox = Outbox(settings.demo_outbox) if settings.demo_outbox is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker_task = (
            asyncio.create_task(Worker(db, settings, name="embedded").run(stop))
            if embedded
            else None
        )
        catcher = (start_catcher(outbox, port=settings.demo_smtp_port)
                   if outbox is not None else None)
        # Everything loaded so far lives as long as the process: out of the collector's
        # way, so its full collections stay short (they showed in the tills' p99).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop.set()
            if worker_task is not None:
                await worker_task
            if catcher is not None:
                catcher.stop()
            await db.dispose()

    app = FastAPI(
        title="Amends",
        version=__version__,
        summary="Service recovery: an apology and a single-use gesture, in one click.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.outbox = outbox
    app.state.limiter = RateLimiter(settings)
    app.state.client_addresses = ClientAddresses(settings.trusted_proxies,
                                                 header=settings.forwarded_header)
    app.state.head_revision = head_revision()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, the 500s and 413s too
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    # The routers, included once per process (`_included_routes`).
    app.router.routes.extend(_included_routes())
    return app


@functools.cache
def _included_routes() -> tuple[BaseRoute, ...]:
    """Every feature's router, included once for all the applications of the process.

    FastAPI includes a router lazily: the first request that reaches an included router
    builds the handler of each of its routes (their dependencies and fields) for that
    application, up to a second of CPU for all of ours. It depends on the code alone, so the
    process builds it once, however many applications it makes (the tests make one per test).
    The routes carry no application: handlers find the database and settings on the request's
    app, and no dependency is overridden (the routers are included without an application)."""
    # Routes are matched in order: the tills' hot path first.
    hot_first = (
        redemptions_router, events_router, coupons_router, cases_router, approvals_router,
        customers_router, incentives_router, code_pools_router, suppressions_router,
        webhooks_router, organization_router, brand_router, api_keys_router, audit_router,
        delivery_router, rules_router, incidents_router, reports_router, exports_router,
        jobs_router, ops_router,
        wallet_router, wallet_web_service_router, coupon_page_router, wallet_views_router,
        brand_assets_router,
        case_views_router, dashboard_router, till_router, approvals_views_router,
        catalogue_router, rules_views_router, customer_views_router, incident_views_router,
        outcomes_views_router, outbox_views_router, outbox_receivers_router, users_router,
        profile_router, admin_router, users_admin_router, api_keys_views_router,
        webhooks_views_router, audit_views_router, settings_views_router, delivery_admin_router,
        web_router, helpdesk_router, helpdesk_panel_router, helpdesk_admin_router,
        *helpdesks.ROUTERS,
        shops_router, shops_views_router,
    )
    holder = APIRouter()
    for router in hot_first:
        holder.include_router(router)
    return tuple(holder.routes)
