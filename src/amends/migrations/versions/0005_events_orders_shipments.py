"""events orders shipments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 08:22:25.163790
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('occurred_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('received_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_events_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('organization_id', 'source_id', name=op.f('uq_events_organization_id_source_id'))
    )
    op.create_table('orders',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('customer_external_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('placed_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('promised_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_orders_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('organization_id', 'external_id', name=op.f('uq_orders_organization_id_external_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_org_customer', ['organization_id', 'customer_id', 'completed_at'], unique=False)

    op.create_table('shipments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('order_external_id', sa.String(length=100), nullable=True),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('carrier', sa.String(length=50), nullable=True),
    sa.Column('tracking_number', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('promised_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_scan_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_location', sa.String(length=200), nullable=True),
    sa.Column('delivered_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exception_reason', sa.String(length=100), nullable=True),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_shipments_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_shipments_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('organization_id', 'external_id', name=op.f('uq_shipments_organization_id_external_id'))
    )
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.create_index('ix_shipments_open_promised', ['status', 'promised_at'], unique=False)
        batch_op.create_index('ix_shipments_open_scan', ['status', 'last_scan_at'], unique=False)
        batch_op.create_index('ix_shipments_org_order', ['organization_id', 'order_external_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_index('ix_shipments_org_order')
        batch_op.drop_index('ix_shipments_open_scan')
        batch_op.drop_index('ix_shipments_open_promised')

    op.drop_table('shipments')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_org_customer')

    op.drop_table('orders')
    op.drop_table('events')
