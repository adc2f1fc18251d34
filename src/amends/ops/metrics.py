"""Prometheus metrics: requests by route, job outcomes, and the queue depth at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "amends_http_requests_total", "HTTP requests", ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    "amends_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
JOBS_FINISHED = Counter(
    "amends_jobs_finished_total", "Jobs run by this process, by outcome", ["kind", "outcome"],
    registry=REGISTRY,
)
JOB_QUEUE = Gauge(
    "amends_jobs", "Jobs in the table by status (read at scrape time)", ["status"],
    registry=REGISTRY,
)
CODE_POOL_EXHAUSTED = Counter(
    "amends_code_pool_exhausted_total",
    "Coupons that could not be issued because their code pool was empty (alert on this)",
    ["pool"], registry=REGISTRY,
)
CODE_GUESSING_BLOCKED = Counter(
    "amends_code_guessing_blocked_total",
    "Validate/redeem attempts refused for too many failures", ["by"], registry=REGISTRY,
)
CODE_GUESSING_ORGANIZATION_BLOCKED = Counter(
    "amends_code_guessing_organization_blocked_total",
    "Times an organisation's whole code-failure budget ran out and its code checks were "
    "refused (counted once a minute while it lasts; alert on any: someone is guessing with "
    "many keys or addresses)", registry=REGISTRY,
)
