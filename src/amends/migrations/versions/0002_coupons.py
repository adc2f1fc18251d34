"""coupons

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:20:33.850325
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('code_pools',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_code_pools_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_pools')),
    sa.UniqueConstraint('organization_id', 'name', name=op.f('uq_code_pools_organization_id_name'))
    )
    op.create_table('customers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('name_search', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('value_tier', sa.String(length=20), nullable=False),
    sa.Column('lifetime_value', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('marketing_consent', sa.Boolean(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_customers_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('organization_id', 'external_id', name=op.f('uq_customers_organization_id_external_id'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_org_email', ['organization_id', 'email'], unique=False)
        batch_op.create_index('ix_customers_org_name', ['organization_id', 'name_search'], unique=False)
        batch_op.create_index('ix_customers_org_phone', ['organization_id', 'phone'], unique=False)

    op.create_table('incentives',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('min_order', sa.BigInteger(), nullable=True),
    sa.Column('sku', sa.String(length=100), nullable=True),
    sa.Column('validity_days', sa.Integer(), nullable=True),
    sa.Column('valid_until', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('bound_to_customer', sa.Boolean(), nullable=False),
    sa.Column('code_pool_id', sa.Uuid(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['code_pool_id'], ['code_pools.id'], name=op.f('fk_incentives_code_pool_id_code_pools'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_incentives_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incentives'))
    )
    op.create_table('pool_codes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('pool_id', sa.Uuid(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('coupon_id', sa.Uuid(), nullable=True),
    sa.Column('allocated_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pool_codes_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['code_pools.id'], name=op.f('fk_pool_codes_pool_id_code_pools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pool_codes')),
    sa.UniqueConstraint('organization_id', 'code', name=op.f('uq_pool_codes_organization_id_code'))
    )
    with op.batch_alter_table('pool_codes', schema=None) as batch_op:
        batch_op.create_index('ix_pool_codes_available', ['pool_id', 'id'], unique=False, sqlite_where=sa.text('coupon_id IS NULL'), postgresql_where=sa.text('coupon_id IS NULL'))

    op.create_table('pool_imports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('pool_id', sa.Uuid(), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('invalid', sa.Integer(), nullable=False),
    sa.Column('invalid_samples', sa.JSON(), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_pool_imports_organization_id_organizations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['code_pools.id'], name=op.f('fk_pool_imports_pool_id_code_pools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pool_imports'))
    )
    with op.batch_alter_table('pool_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pool_imports_pool_id'), ['pool_id'], unique=False)

    op.create_table('coupons',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('customer_external_id', sa.String(length=100), nullable=False),
    sa.Column('incentive_id', sa.Uuid(), nullable=False),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('page_token', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('min_order', sa.BigInteger(), nullable=True),
    sa.Column('sku', sa.String(length=100), nullable=True),
    sa.Column('terms', sa.Text(), nullable=False),
    sa.Column('bound_to_customer', sa.Boolean(), nullable=False),
    sa.Column('face_value', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=True),
    sa.Column('last_debit', sa.BigInteger(), nullable=True),
    sa.Column('redemption_count', sa.Integer(), nullable=False),
    sa.Column('valid_from', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reserved_until', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reservation_id', sa.Uuid(), nullable=True),
    sa.Column('redeemed_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=1000), nullable=True),
    sa.Column('reinstated_count', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('issued_by_type', sa.String(length=20), nullable=False),
    sa.Column('issued_by_id', sa.Uuid(), nullable=True),
    sa.Column('issued_by_label', sa.String(length=320), nullable=False),
    sa.Column('issued_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_coupons_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incentive_id'], ['incentives.id'], name=op.f('fk_coupons_incentive_id_incentives'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_coupons_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('organization_id', 'code', name=op.f('uq_coupons_organization_id_code')),
    sa.UniqueConstraint('organization_id', 'customer_id', 'incentive_id', 'case_ref', name=op.f('uq_coupons_organization_id_customer_id_incentive_id_case_ref')),
    sa.UniqueConstraint('page_token', name=op.f('uq_coupons_page_token'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index('ix_coupons_org_customer', ['organization_id', 'customer_id', 'issued_at'], unique=False)
        batch_op.create_index('ix_coupons_status_expires', ['status', 'expires_at'], unique=False)

    op.create_table('gift_card_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('coupon_id', sa.Uuid(), nullable=False),
    sa.Column('redemption_id', sa.Uuid(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_gift_card_entries_coupon_id_coupons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_gift_card_entries_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gift_card_entries'))
    )
    with op.batch_alter_table('gift_card_entries', schema=None) as batch_op:
        batch_op.create_index('ix_gift_card_entries_coupon', ['organization_id', 'coupon_id'], unique=False)

    op.create_table('redemptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('coupon_id', sa.Uuid(), nullable=False),
    sa.Column('reservation_id', sa.Uuid(), nullable=True),
    sa.Column('order_id', sa.String(length=100), nullable=False),
    sa.Column('order_amount', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('store_id', sa.String(length=100), nullable=True),
    sa.Column('till_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('voided_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('void_reason', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_redemptions_coupon_id_coupons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_redemptions_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions'))
    )
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_redemptions_org_coupon', ['organization_id', 'coupon_id'], unique=False)
        batch_op.create_index('ix_redemptions_org_created', ['organization_id', 'created_at'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('coupon_id', sa.Uuid(), nullable=False),
    sa.Column('order_id', sa.String(length=100), nullable=False),
    sa.Column('order_amount', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('store_id', sa.String(length=100), nullable=True),
    sa.Column('till_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('expires_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_reservations_coupon_id_coupons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_reservations_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_coupon_id'), ['coupon_id'], unique=False)
        batch_op.create_index('ix_reservations_held', ['status', 'expires_at'], unique=False)

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code_prefix', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('average_order_value', sa.BigInteger(), nullable=False, server_default='5000'))



def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('average_order_value')
        batch_op.drop_column('code_prefix')

    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index('ix_reservations_held')
        batch_op.drop_index(batch_op.f('ix_reservations_coupon_id'))

    op.drop_table('reservations')
    with op.batch_alter_table('redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_redemptions_org_created')
        batch_op.drop_index('ix_redemptions_org_coupon')

    op.drop_table('redemptions')
    with op.batch_alter_table('gift_card_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_gift_card_entries_coupon')

    op.drop_table('gift_card_entries')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_status_expires')
        batch_op.drop_index('ix_coupons_org_customer')

    op.drop_table('coupons')
    with op.batch_alter_table('pool_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pool_imports_pool_id'))

    op.drop_table('pool_imports')
    with op.batch_alter_table('pool_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_pool_codes_available', sqlite_where=sa.text('coupon_id IS NULL'), postgresql_where=sa.text('coupon_id IS NULL'))

    op.drop_table('pool_codes')
    op.drop_table('incentives')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_org_phone')
        batch_op.drop_index('ix_customers_org_name')
        batch_op.drop_index('ix_customers_org_email')

    op.drop_table('customers')
    op.drop_table('code_pools')
