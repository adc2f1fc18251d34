"""Wallet passes: each organisation's Apple and Google Wallet credentials, the Apple pass of a
coupon (serial number, authentication token, update tag) and the devices registered for its
updates.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db
from amends.citus import create_tenant_table

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _organization_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                   name=op.f(f'fk_{table}_organization_id_organizations'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    create_tenant_table(
        'wallet_configs',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('platform', sa.String(length=10), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('update_counter', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        _organization_key('wallet_configs'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_wallet_configs')),
        sa.UniqueConstraint('organization_id', 'platform',
                            name=op.f('uq_wallet_configs_organization_id_platform')),
    )
    create_tenant_table(
        'wallet_passes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('coupon_id', sa.Uuid(), nullable=False),
        sa.Column('serial_number', sa.String(length=100), nullable=False),
        sa.Column('authentication_token', sa.String(length=100), nullable=False),
        sa.Column('update_tag', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        _organization_key('wallet_passes'),
        sa.ForeignKeyConstraint(['organization_id', 'coupon_id'],
                                ['coupons.organization_id', 'coupons.id'],
                                name=op.f('fk_wallet_passes_organization_id_coupons'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_wallet_passes')),
        sa.UniqueConstraint('organization_id', 'coupon_id',
                            name=op.f('uq_wallet_passes_organization_id_coupon_id')),
        sa.UniqueConstraint('organization_id', 'serial_number',
                            name=op.f('uq_wallet_passes_organization_id_serial_number')),
    )
    create_tenant_table(
        'wallet_registrations',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('pass_id', sa.Uuid(), nullable=False),
        sa.Column('device_id', sa.String(length=100), nullable=False),
        sa.Column('push_token', sa.String(length=200), nullable=False),
        sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        _organization_key('wallet_registrations'),
        sa.ForeignKeyConstraint(['organization_id', 'pass_id'],
                                ['wallet_passes.organization_id', 'wallet_passes.id'],
                                name=op.f('fk_wallet_registrations_organization_id_wallet_passes'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_wallet_registrations')),
        sa.UniqueConstraint(
            'organization_id', 'device_id', 'pass_id',
            name=op.f('uq_wallet_registrations_organization_id_device_id_pass_id')),
    )
    op.create_index('ix_wallet_registrations_org_pass', 'wallet_registrations',
                    ['organization_id', 'pass_id'])


def downgrade() -> None:
    op.drop_index('ix_wallet_registrations_org_pass', table_name='wallet_registrations')
    op.drop_table('wallet_registrations')
    op.drop_table('wallet_passes')
    op.drop_table('wallet_configs')
