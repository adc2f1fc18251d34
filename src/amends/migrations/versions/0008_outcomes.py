"""Outcomes: hold-out cases, and gestures looked up by their case

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 09:46:10.487842
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_out', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index('ix_coupons_org_case', ['organization_id', 'case_ref'],
                              unique=False)



def downgrade() -> None:
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_org_case')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('held_out')

