"""Pool codes keep their organisation id without a key of their own to organisations: an
import checked it once per row (a third of a million-code import's time on PostgreSQL), while
their key to their pool, whose own key is to the organisation, already holds it and cascades
an organisation's deletion to its codes.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

from alembic import op

from amends.citus import sequential

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = 'fk_pool_codes_organization_id_organizations'


def upgrade() -> None:
    sequential(op.get_bind())
    with op.batch_alter_table('pool_codes', schema=None) as batch_op:
        batch_op.drop_constraint(_KEY, type_='foreignkey')


def downgrade() -> None:
    sequential(op.get_bind())
    with op.batch_alter_table('pool_codes', schema=None) as batch_op:
        batch_op.create_foreign_key(_KEY, 'organizations', ['organization_id'], ['id'],
                                    ondelete='CASCADE')
