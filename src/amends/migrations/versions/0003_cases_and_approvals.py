"""cases and approvals

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:50:30.228710
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('authority_limits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('subject', sa.String(length=60), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('max_gesture', sa.BigInteger(), nullable=True),
    sa.Column('daily_budget', sa.BigInteger(), nullable=True),
    sa.Column('monthly_budget', sa.BigInteger(), nullable=True),
    sa.Column('incentive_ids', sa.JSON(), nullable=True),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_authority_limits_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_authority_limits')),
    sa.UniqueConstraint('organization_id', 'subject', 'currency', name=op.f('uq_authority_limits_organization_id_subject_currency'))
    )
    op.create_table('budget_usage',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('spender', sa.String(length=60), nullable=False),
    sa.Column('period', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_budget_usage_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_usage')),
    sa.UniqueConstraint('organization_id', 'spender', 'period', 'currency', name=op.f('uq_budget_usage_organization_id_spender_period_currency'))
    )
    op.create_table('reasons',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=50), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_reasons_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reasons')),
    sa.UniqueConstraint('organization_id', 'key', name=op.f('uq_reasons_organization_id_key'))
    )
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('event_types', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_webhook_endpoints_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_table('cases',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('customer_external_id', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('conversation_ref', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('root_cause', sa.String(length=100), nullable=True),
    sa.Column('responsible_party', sa.String(length=200), nullable=True),
    sa.Column('remedy', sa.Text(), nullable=True),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.Column('opened_by_type', sa.String(length=20), nullable=False),
    sa.Column('opened_by_id', sa.Uuid(), nullable=True),
    sa.Column('opened_by_label', sa.String(length=320), nullable=False),
    sa.Column('opened_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fixed_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('updated_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_cases_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_cases_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('organization_id', 'reference', name=op.f('uq_cases_organization_id_reference'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_org_customer', ['organization_id', 'customer_id', 'opened_at'], unique=False)
        batch_op.create_index('ix_cases_org_state', ['organization_id', 'state', 'opened_at'], unique=False)

    op.create_table('suppressions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('customer_external_id', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('changed_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_suppressions_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_suppressions_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressions'))
    )
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.create_index('ix_suppressions_org_changed', ['organization_id', 'changed_at'], unique=False)
        batch_op.create_index('uq_suppressions_org_customer', ['organization_id', 'customer_id'], unique=True)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_webhook_deliveries_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_endpoint', ['organization_id', 'endpoint_id', 'created_at'], unique=False)

    op.create_table('approvals',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('customer_external_id', sa.String(length=100), nullable=False),
    sa.Column('incentive_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('case_ref', sa.String(length=100), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('face_value', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('grounds', sa.JSON(), nullable=False),
    sa.Column('explanation', sa.String(length=1000), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('requested_by_type', sa.String(length=20), nullable=False),
    sa.Column('requested_by_id', sa.Uuid(), nullable=True),
    sa.Column('requested_by_label', sa.String(length=320), nullable=False),
    sa.Column('decided_by_id', sa.Uuid(), nullable=True),
    sa.Column('decided_by_label', sa.String(length=320), nullable=True),
    sa.Column('decision_reason', sa.String(length=1000), nullable=True),
    sa.Column('decided_at', amends.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('coupon_id', sa.Uuid(), nullable=True),
    sa.Column('expires_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_approvals_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_approvals_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incentive_id'], ['incentives.id'], name=op.f('fk_approvals_incentive_id_incentives'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_approvals_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approvals'))
    )
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.create_index('ix_approvals_org_status', ['organization_id', 'status', 'created_at'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('actor_label', sa.String(length=320), nullable=False),
    sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_case_events_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index('ix_case_events_case', ['organization_id', 'case_id', 'id'], unique=False)

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('second_gesture_window_days', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('approval_hours', sa.Integer(), nullable=False, server_default='72'))
        batch_op.add_column(sa.Column('recommendation_rules', sa.JSON(), nullable=False, server_default='{}'))



def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('recommendation_rules')
        batch_op.drop_column('approval_hours')
        batch_op.drop_column('second_gesture_window_days')

    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index('ix_case_events_case')

    op.drop_table('case_events')
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_index('ix_approvals_org_status')

    op.drop_table('approvals')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_endpoint')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('suppressions', schema=None) as batch_op:
        batch_op.drop_index('uq_suppressions_org_customer')
        batch_op.drop_index('ix_suppressions_org_changed')

    op.drop_table('suppressions')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_org_state')
        batch_op.drop_index('ix_cases_org_customer')

    op.drop_table('cases')
    op.drop_table('webhook_endpoints')
    op.drop_table('reasons')
    op.drop_table('budget_usage')
    op.drop_table('authority_limits')
