"""Coupons: no index on a column a redemption changes, and room on each page, so that on
PostgreSQL a redemption is a HOT update (no index entries written)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_status_expires')
        batch_op.create_index('ix_coupons_expires', ['expires_at'], unique=False)
        batch_op.create_index('ix_coupons_reserved_until', ['reserved_until'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # New pages keep 15% free for updated row versions; existing pages get it as they are
        # rewritten (VACUUM FULL or pg_repack, at a quiet hour, for a big table).
        op.execute('ALTER TABLE coupons SET (fillfactor = 85)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE coupons RESET (fillfactor)')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_reserved_until')
        batch_op.drop_index('ix_coupons_expires')
        batch_op.create_index('ix_coupons_status_expires', ['status', 'expires_at'],
                              unique=False)
