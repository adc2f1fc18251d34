"""Helpdesk apps: each organisation's installations in Zendesk, Freshdesk, Intercom and Gorgias,
the agents' panels opened from a ticket, the signed requests already used, and the case's
installation (its ticket links back to it).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db
from amends.citus import create_tenant_table

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _organization_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                   name=op.f(f'fk_{table}_organization_id_organizations'),
                                   ondelete='CASCADE')


def upgrade() -> None:
    create_tenant_table(
        'helpdesk_installations',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('platform', sa.String(length=20), nullable=False),
        sa.Column('account', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('secrets', sa.JSON(), nullable=False),
        sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        _organization_key('helpdesk_installations'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_helpdesk_installations')),
        sa.UniqueConstraint(
            'organization_id', 'platform', 'account',
            name=op.f('uq_helpdesk_installations_organization_id_platform_account')),
    )
    create_tenant_table(
        'helpdesk_panels',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('installation_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('ticket', sa.JSON(), nullable=False),
        sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        _organization_key('helpdesk_panels'),
        sa.ForeignKeyConstraint(
            ['organization_id', 'installation_id'],
            ['helpdesk_installations.organization_id', 'helpdesk_installations.id'],
            name=op.f('fk_helpdesk_panels_organization_id_helpdesk_installations'),
            ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id', 'user_id'],
                                ['users.organization_id', 'users.id'],
                                name=op.f('fk_helpdesk_panels_organization_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_helpdesk_panels')),
        sa.UniqueConstraint('organization_id', 'token_hash',
                            name=op.f('uq_helpdesk_panels_organization_id_token_hash')),
    )
    create_tenant_table(
        'helpdesk_replays',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('expires_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        _organization_key('helpdesk_replays'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_helpdesk_replays')),
        sa.UniqueConstraint('organization_id', 'digest',
                            name=op.f('uq_helpdesk_replays_organization_id_digest')),
    )
    op.create_index('ix_helpdesk_replays_org_expires', 'helpdesk_replays',
                    ['organization_id', 'expires_at'])
    with op.batch_alter_table('cases') as batch_op:
        batch_op.add_column(sa.Column('helpdesk_installation_id', sa.Uuid(), nullable=True))
        batch_op.create_unique_constraint(
            'uq_cases_helpdesk_ticket',
            ['organization_id', 'helpdesk_installation_id', 'conversation_ref'])


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch_op:
        batch_op.drop_constraint('uq_cases_helpdesk_ticket', type_='unique')
        batch_op.drop_column('helpdesk_installation_id')
    op.drop_index('ix_helpdesk_replays_org_expires', table_name='helpdesk_replays')
    op.drop_table('helpdesk_replays')
    op.drop_table('helpdesk_panels')
    op.drop_table('helpdesk_installations')
