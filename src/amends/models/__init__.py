"""All tables; importing this module registers them on `Base.metadata` for Alembic."""

from amends.models.api_key import ApiKey
from amends.models.audit_event import AuditEvent
from amends.models.idempotency_key import IdempotencyKey
from amends.models.job import Job
from amends.models.organization import Organization
from amends.models.user import User
from amends.models.user_session import UserSession

__all__ = [
    "ApiKey",
    "AuditEvent",
    "IdempotencyKey",
    "Job",
    "Organization",
    "User",
    "UserSession",
]
