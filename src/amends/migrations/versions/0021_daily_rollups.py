"""Daily roll-ups of gestures, redemptions and cases for the reports, kept up to date from the
days each write records as changed; cases found by the day they were opened.

Every day an organisation already has gestures, redemptions or cases on is recorded as
changed: reports read those days from the tables, as before, until the first fold (within a
minute of the worker starting) has built them.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from amends.citus import create_tenant_table

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLLUP_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
# (roll-up, table, the column whose UTC day it is kept by)
CHANGED = (('gestures', 'coupons', 'issued_at'), ('redemptions', 'redemptions', 'created_at'),
           ('cases', 'cases', 'opened_at'))


def _keys(table: str) -> list[Any]:
    return [
        sa.Column('id', ROLLUP_ID, autoincrement=False, nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('grain', sa.String(length=10), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f(f'fk_{table}_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f(f'pk_{table}')),
    ]


def _counts(*names: str) -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in names]


def upgrade() -> None:
    create_tenant_table(
        'gesture_days', *_keys('gesture_days'),
        sa.Column('reason', sa.String(length=50), nullable=True),
        sa.Column('agent', sa.String(length=320), nullable=True),
        sa.Column('issuer_id', sa.Uuid(), nullable=True),
        sa.Column('channel', sa.String(length=20), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=True),
        *_counts('gestures', 'face_value', 'redeemed', 'redeemed_value', 'revoked'))
    create_tenant_table(
        'redemption_days', *_keys('redemption_days'),
        sa.Column('reason', sa.String(length=50), nullable=True),
        sa.Column('agent', sa.String(length=320), nullable=True),
        sa.Column('issuer_id', sa.Uuid(), nullable=True),
        sa.Column('channel', sa.String(length=20), nullable=True),
        sa.Column('store', sa.String(length=100), nullable=True),
        sa.Column('actor_id', sa.Uuid(), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=True),
        *_counts('coupons', 'redemptions', 'value'))
    create_tenant_table(
        'case_days', *_keys('case_days'),
        sa.Column('reason', sa.String(length=50), nullable=True),
        sa.Column('channel', sa.String(length=20), nullable=True),
        sa.Column('root_cause', sa.String(length=100), nullable=True),
        sa.Column('agent', sa.String(length=320), nullable=True),
        *_counts('cases', 'fixed', 'fix_micros'),
        sa.Column('longest_fix_micros', sa.BigInteger(), nullable=True),
        *_counts('bought_again'))
    for table in ('gesture_days', 'redemption_days', 'case_days'):
        op.create_index(f'ix_{table}_org_grain_day', table, ['organization_id', 'grain', 'day'])
    create_tenant_table(
        'rollup_changes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('rollup', sa.String(length=20), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_rollup_changes_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_rollup_changes')))
    op.create_index('ix_rollup_changes_org_rollup_day', 'rollup_changes',
                    ['organization_id', 'rollup', 'day'])
    op.create_index('ix_cases_org_opened', 'cases', ['organization_id', 'opened_at'],
                    if_not_exists=True)
    _every_day_changed()


def _every_day_changed() -> None:
    """Record every day that holds rows as changed, so that reports read it from the tables
    until a fold has built it."""
    postgres = op.get_bind().dialect.name == 'postgresql'
    new_id = 'gen_random_uuid()' if postgres else 'lower(hex(randomblob(16)))'
    for rollup, table, column in CHANGED:
        day = (f"to_char(timezone('UTC', {column}), 'YYYY-MM-DD')" if postgres
               else f"strftime('%Y-%m-%d', {column})")
        op.execute(
            f"INSERT INTO rollup_changes (id, organization_id, rollup, day) "
            f"SELECT {new_id}, organization_id, '{rollup}', day FROM ("
            f"SELECT organization_id, {day} AS day FROM {table} "
            f"GROUP BY organization_id, {day}) AS days")


def downgrade() -> None:
    op.drop_index('ix_cases_org_opened', table_name='cases', if_exists=True)
    op.drop_index('ix_rollup_changes_org_rollup_day', table_name='rollup_changes')
    op.drop_table('rollup_changes')
    for table in ('case_days', 'redemption_days', 'gesture_days'):
        op.drop_index(f'ix_{table}_org_grain_day', table_name=table)
        op.drop_table(table)
