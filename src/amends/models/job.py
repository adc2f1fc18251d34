from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from amends.db import Base
from amends.models._columns import CreatedAt, OptionalTimestamp, Timestamp, UUIDPk


class Job(Base):
    """A unit of background work, inserted in the transaction of the change that causes it.

    status: queued -> running -> succeeded | queued (retry) | dead.
    A running job whose `locked_until` has passed is claimed again (its worker died).
    `priority`: among due jobs, the lower number runs first (0-9, most kinds 5).

    Claims read two small ordered indexes, so a claim costs the same with a hundred thousand
    jobs due as with ten: the queued jobs by (priority, run_at), and the running ones by the
    end of their lease (`run_at`).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_queued", "priority", "run_at", sqlite_where=text("status = 'queued'"),
              postgresql_where=text("status = 'queued'")),
        Index("ix_jobs_running", "run_at", sqlite_where=text("status = 'running'"),
              postgresql_where=text("status = 'running'")),
        Index("ix_jobs_org_status", "organization_id", "status"),
        Index(
            "uq_jobs_dedupe_key_queued",
            "dedupe_key",
            unique=True,
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[UUIDPk]
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    priority: Mapped[int] = mapped_column(SmallInteger, default=5, server_default="5")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[Timestamp]
    locked_until: Mapped[OptionalTimestamp]
    lease_token: Mapped[str | None] = mapped_column(String(64), default=None)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[CreatedAt]
    finished_at: Mapped[OptionalTimestamp]

    def __repr__(self) -> str:
        return f"Job({self.kind!r}, {self.status!r}, attempts={self.attempts})"



