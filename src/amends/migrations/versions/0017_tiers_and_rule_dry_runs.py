"""Tiers of authority: the organisation's approval tiers and SLA, each request's tier, since
when and how it got there; when a proactive rule's dry run was last seen.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 12:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('organizations') as batch_op:
        batch_op.add_column(sa.Column('approval_tiers', sa.JSON(), nullable=False,
                                      server_default='["supervisor", "manager", "admin"]'))
        batch_op.add_column(sa.Column('approval_sla_minutes', sa.Integer(), nullable=True,
                                      server_default='60'))
    with op.batch_alter_table('approvals') as batch_op:
        batch_op.add_column(sa.Column('tier', sa.String(length=20), nullable=False,
                                      server_default='supervisor'))
        batch_op.add_column(sa.Column('tier_since', amends.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('chain', sa.JSON(), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('sla_notified_at', amends.db.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('recovery_rules') as batch_op:
        batch_op.add_column(sa.Column('dry_run_at', amends.db.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('recovery_rules') as batch_op:
        batch_op.drop_column('dry_run_at')
    with op.batch_alter_table('approvals') as batch_op:
        batch_op.drop_column('sla_notified_at')
        batch_op.drop_column('chain')
        batch_op.drop_column('tier_since')
        batch_op.drop_column('tier')
    with op.batch_alter_table('organizations') as batch_op:
        batch_op.drop_column('approval_sla_minutes')
        batch_op.drop_column('approval_tiers')
