"""The ledger's and the outcomes' roll-ups keep coarser grains beside their rows by every
dimension (`grain` 'all'): the ledger by reason and channel, by member of staff, by incident;
outcomes by reason and gesture. A report reads the smallest grain that has what it groups and
filters by (thousands of rows where a large company has hundreds of thousands); a dimension a
grain does not keep is null in its rows.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from amends.citus import sequential

revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the columns a coarser grain leaves null, the index the grains' index replaces and
# its columns)
TABLES = (
    ('ledger_rollup', ('agent',), 'ix_ledger_rollup_org_day', ['organization_id', 'day']),
    ('outcome_rollup', ('tier', 'severity'), None, None),
)
_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    'agent': sa.String(length=320), 'tier': sa.String(length=20), 'severity': sa.Integer()}


def upgrade() -> None:
    sequential(op.get_bind())
    for table, nullable, old_index, _ in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('grain', sa.String(length=10), nullable=False,
                                          server_default='all'))
            for column in nullable:
                batch_op.alter_column(column, existing_type=_TYPES[column], nullable=True)
            if old_index:
                batch_op.drop_index(old_index)
    op.create_index('ix_ledger_rollup_org_grain_day', 'ledger_rollup',
                    ['organization_id', 'grain', 'day'])
    op.create_index('ix_outcome_rollup_org_grain_day', 'outcome_rollup',
                    ['organization_id', 'grain', 'day'])


def downgrade() -> None:
    sequential(op.get_bind())
    op.drop_index('ix_outcome_rollup_org_grain_day', table_name='outcome_rollup')
    op.drop_index('ix_ledger_rollup_org_grain_day', table_name='ledger_rollup')
    for table, nullable, old_index, columns in TABLES:
        op.execute(f"DELETE FROM {table} WHERE grain <> 'all'")
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in nullable:
                batch_op.alter_column(column, existing_type=_TYPES[column], nullable=False)
            batch_op.drop_column('grain')
            if old_index and columns:
                batch_op.create_index(old_index, columns, unique=False)
