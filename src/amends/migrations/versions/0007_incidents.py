"""Mass incidents: the incident, the customers it touched, and links from cases and deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:37:34.706171
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('window_start', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window_end', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('incentive_id', sa.Uuid(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('channel_policy', sa.String(length=20), nullable=False),
    sa.Column('holdout_percent', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('affected', sa.Integer(), nullable=False),
    sa.Column('face_value_total', sa.BigInteger(), nullable=False),
    sa.Column('approved_by_label', sa.String(length=320), nullable=True),
    sa.Column('approved_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_type', sa.String(length=20), nullable=False),
    sa.Column('created_by_id', sa.Uuid(), nullable=True),
    sa.Column('created_by_label', sa.String(length=320), nullable=False),
    sa.Column('started_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incentive_id'], ['incentives.id'], name=op.f('fk_incidents_incentive_id_incentives'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_incidents_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    op.create_table('incident_customers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('incident_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('customer_external_id', sa.String(length=100), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('held_out', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('coupon_id', sa.Uuid(), nullable=True),
    sa.Column('delivery_id', sa.Uuid(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('processed_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_incident_customers_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_customers_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_incident_customers_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_customers')),
    sa.UniqueConstraint('incident_id', 'customer_external_id', name=op.f('uq_incident_customers_incident_id_customer_external_id')),
    sa.UniqueConstraint('incident_id', 'seq', name=op.f('uq_incident_customers_incident_id_seq'))
    )
    with op.batch_alter_table('incident_customers', schema=None) as batch_op:
        batch_op.create_index('ix_incident_customers_state', ['incident_id', 'state', 'seq'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_id', sa.Uuid(), nullable=True))
        batch_op.create_index('uq_cases_incident_customer', ['organization_id', 'incident_id', 'customer_id'], unique=True, sqlite_where=sa.text('incident_id IS NOT NULL'), postgresql_where=sa.text('incident_id IS NOT NULL'))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_deliveries_incident', ['incident_id', 'status'], unique=False)

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_approval_threshold', sa.BigInteger(), nullable=False, server_default='100000'))



def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('incident_approval_threshold')

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_incident')
        batch_op.drop_column('incident_id')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('uq_cases_incident_customer', sqlite_where=sa.text('incident_id IS NOT NULL'), postgresql_where=sa.text('incident_id IS NOT NULL'))
        batch_op.drop_column('incident_id')

    with op.batch_alter_table('incident_customers', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_customers_state')

    op.drop_table('incident_customers')
    op.drop_table('incidents')
