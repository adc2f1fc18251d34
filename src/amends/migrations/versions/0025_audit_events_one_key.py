"""Audit events lose `ix_audit_events_org_id`: it indexed (organization_id, id), the columns of
the primary key's own index, so every audited write kept the same entry twice.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

from alembic import op

from amends.citus import sequential

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sequential(op.get_bind())
    op.drop_index('ix_audit_events_org_id', table_name='audit_events')


def downgrade() -> None:
    sequential(op.get_bind())
    op.create_index('ix_audit_events_org_id', 'audit_events', ['organization_id', 'id'],
                    unique=False)
