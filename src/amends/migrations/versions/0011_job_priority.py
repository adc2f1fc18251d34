"""Jobs: a priority, and claims from two small ordered indexes (queued by priority and due
time, running by lease end) instead of sorting every due job

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.SmallInteger(), server_default='5',
                                      nullable=False))
        batch_op.drop_index('ix_jobs_claim')
        batch_op.create_index('ix_jobs_queued', ['priority', 'run_at'], unique=False,
                              sqlite_where=sa.text("status = 'queued'"),
                              postgresql_where=sa.text("status = 'queued'"))
        batch_op.create_index('ix_jobs_running', ['run_at'], unique=False,
                              sqlite_where=sa.text("status = 'running'"),
                              postgresql_where=sa.text("status = 'running'"))


def downgrade() -> None:
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_running')
        batch_op.drop_index('ix_jobs_queued')
        batch_op.create_index('ix_jobs_claim', ['status', 'run_at'], unique=False)
        batch_op.drop_column('priority')
