"""Roll-ups of the cost ledger and of outcomes, rebuilt by a job, for reports at scale

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 11:00:39.062299
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ledger_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=True),
    sa.Column('agent', sa.String(length=320), nullable=False),
    sa.Column('team', sa.String(length=100), nullable=True),
    sa.Column('store', sa.String(length=100), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('incident_id', sa.Uuid(), nullable=True),
    sa.Column('gestures', sa.BigInteger(), nullable=False),
    sa.Column('issued', sa.BigInteger(), nullable=False),
    sa.Column('redeemed', sa.BigInteger(), nullable=False),
    sa.Column('variance', sa.BigInteger(), nullable=False),
    sa.Column('breakage', sa.BigInteger(), nullable=False),
    sa.Column('reversed', sa.BigInteger(), nullable=False),
    sa.Column('outstanding', sa.BigInteger(), nullable=False),
    sa.Column('voided', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ledger_rollup_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_rollup'))
    )
    with op.batch_alter_table('ledger_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_rollup_org_day', ['organization_id', 'day'], unique=False)

    op.create_table('outcome_rollup',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('held_out', sa.Boolean(), nullable=False),
    sa.Column('incentive_id', sa.Uuid(), nullable=True),
    sa.Column('gesture', sa.String(length=200), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('cases', sa.BigInteger(), nullable=False),
    sa.Column('won', sa.BigInteger(), nullable=False),
    sa.Column('face_value', sa.BigInteger(), nullable=False),
    sa.Column('redeemed', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_outcome_rollup_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_rollup'))
    )
    with op.batch_alter_table('outcome_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_outcome_rollup_similar', ['organization_id', 'reason', 'tier', 'severity', 'day'], unique=False)

    op.create_table('rollup_runs',
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('refreshed_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rollup_runs_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_rollup_runs'))
    )


def downgrade() -> None:
    op.drop_table('rollup_runs')
    with op.batch_alter_table('outcome_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_outcome_rollup_similar')

    op.drop_table('outcome_rollup')
    with op.batch_alter_table('ledger_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_rollup_org_day')

    op.drop_table('ledger_rollup')
