"""proactive recovery

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 08:24:38.817123
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('recovery_rules',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('condition', sa.JSON(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_recovery_rules_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_rules'))
    )
    op.create_table('rule_firings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('rule_id', sa.Uuid(), nullable=False),
    sa.Column('shipment_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('why', sa.String(length=500), nullable=False),
    sa.Column('fired_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_rule_firings_case_id_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_rule_firings_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['recovery_rules.id'], name=op.f('fk_rule_firings_rule_id_recovery_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_rule_firings_shipment_id_shipments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rule_firings')),
    sa.UniqueConstraint('organization_id', 'rule_id', 'shipment_id', name=op.f('uq_rule_firings_organization_id_rule_id_shipment_id'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thanked_at', amends.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('automation_daily_budget', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('feedback_delay_days', sa.Integer(), nullable=False, server_default='3'))
        batch_op.add_column(sa.Column('thank_you_window_days', sa.Integer(), nullable=False, server_default='90'))
        batch_op.add_column(sa.Column('surprise_incentive_id', sa.String(length=36), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('surprise_incentive_id')
        batch_op.drop_column('thank_you_window_days')
        batch_op.drop_column('feedback_delay_days')
        batch_op.drop_column('automation_daily_budget')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('thanked_at')

    op.drop_table('rule_firings')
    op.drop_table('recovery_rules')
