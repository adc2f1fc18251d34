"""Shops: each organisation's Shopify and WooCommerce connections, its coupons as each shop
holds them, the shop orders that used them (one row per order and code), and its customers'
ids in each shop.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db
from amends.citus import create_tenant_table

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _organization_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                   name=op.f(f'fk_{table}_organization_id_organizations'),
                                   ondelete='CASCADE')


def _tenant_key(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['organization_id', column],
                                   [f'{parent}.organization_id', f'{parent}.id'],
                                   name=op.f(f'fk_{table}_organization_id_{parent}'),
                                   ondelete='CASCADE')


def _times() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    create_tenant_table(
        'shop_connections',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('platform', sa.String(length=20), nullable=False),
        sa.Column('shop_url', sa.String(length=300), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('secrets', sa.JSON(), nullable=False),
        sa.Column('last_error', sa.String(length=1000), nullable=True),
        sa.Column('last_error_at', amends.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_reconciled_at', amends.db.UTCDateTime(timezone=True), nullable=True),
        *_times(),
        _organization_key('shop_connections'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_shop_connections')),
        sa.UniqueConstraint(
            'organization_id', 'platform', 'shop_url',
            name=op.f('uq_shop_connections_organization_id_platform_shop_url')),
    )
    op.create_index('ix_shop_connections_id', 'shop_connections', ['id'])
    create_tenant_table(
        'shop_codes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('coupon_id', sa.Uuid(), nullable=False),
        sa.Column('connection_id', sa.Uuid(), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('remote_id', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('last_error', sa.String(length=1000), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        *_times(),
        _organization_key('shop_codes'),
        _tenant_key('shop_codes', 'coupon_id', 'coupons'),
        _tenant_key('shop_codes', 'connection_id', 'shop_connections'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_shop_codes')),
        sa.UniqueConstraint(
            'organization_id', 'coupon_id', 'connection_id',
            name=op.f('uq_shop_codes_organization_id_coupon_id_connection_id')),
    )
    op.create_index('ix_shop_codes_org_connection_status', 'shop_codes',
                    ['organization_id', 'connection_id', 'status'])
    create_tenant_table(
        'shop_orders',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('connection_id', sa.Uuid(), nullable=False),
        sa.Column('order_id', sa.String(length=100), nullable=False),
        sa.Column('coupon_id', sa.Uuid(), nullable=False),
        sa.Column('redemption_id', sa.Uuid(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('note', sa.String(length=1000), nullable=True),
        *_times(),
        _organization_key('shop_orders'),
        _tenant_key('shop_orders', 'connection_id', 'shop_connections'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_shop_orders')),
        sa.UniqueConstraint(
            'organization_id', 'connection_id', 'order_id', 'coupon_id',
            name=op.f('uq_shop_orders_organization_id_connection_id_order_id_coupon_id')),
    )
    create_tenant_table(
        'shop_customers',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('connection_id', sa.Uuid(), nullable=False),
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('remote_id', sa.String(length=200), nullable=False),
        sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        _organization_key('shop_customers'),
        _tenant_key('shop_customers', 'connection_id', 'shop_connections'),
        _tenant_key('shop_customers', 'customer_id', 'customers'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_shop_customers')),
        sa.UniqueConstraint(
            'organization_id', 'connection_id', 'customer_id',
            name=op.f('uq_shop_customers_organization_id_connection_id_customer_id')),
    )


def downgrade() -> None:
    op.drop_table('shop_customers')
    op.drop_table('shop_orders')
    op.drop_index('ix_shop_codes_org_connection_status', table_name='shop_codes')
    op.drop_table('shop_codes')
    op.drop_index('ix_shop_connections_id', table_name='shop_connections')
    op.drop_table('shop_connections')
