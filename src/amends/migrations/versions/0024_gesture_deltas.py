"""A gesture's change to the reports' roll-ups is recorded as what it adds to the figures of
the day it was given (with its case, giver, channel and currency), which reports add to the
roll-up until the fold takes it in: a till's use of last week's gesture no longer sends the
reports to the tables for the whole of last week's day.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from amends.citus import sequential

revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (('case_ref', sa.String(length=100)), ('agent', sa.String(length=320)),
           ('issuer_id', sa.Uuid()), ('channel', sa.String(length=20)),
           ('currency', sa.String(length=3)), ('gestures', sa.BigInteger()),
           ('face_value', sa.BigInteger()), ('redeemed', sa.BigInteger()),
           ('redeemed_value', sa.BigInteger()), ('revoked', sa.BigInteger()))


def upgrade() -> None:
    sequential(op.get_bind())
    with op.batch_alter_table('rollup_changes', schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    sequential(op.get_bind())
    # The changes of gestures not yet folded become their days, read from the tables.
    op.execute("UPDATE rollup_changes SET rollup = 'gestures' WHERE rollup = 'gesture_deltas'")
    with op.batch_alter_table('rollup_changes', schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
