"""What the admin console reads and writes: when an API key was last used, invitations and
password-reset links of users, the webhook receiver's answer, the default hold-out share of
incidents.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.add_column(sa.Column('last_used_at', amends.db.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('password_token_hash', sa.String(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('password_token_expires_at',
                                      amends.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('invited_at', amends.db.UTCDateTime(timezone=True),
                                      nullable=True))
    with op.batch_alter_table('webhook_deliveries') as batch_op:
        batch_op.add_column(sa.Column('response_body', sa.Text(), nullable=True))
    with op.batch_alter_table('organizations') as batch_op:
        batch_op.add_column(sa.Column('holdout_percent_default', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('organizations') as batch_op:
        batch_op.drop_column('holdout_percent_default')
    with op.batch_alter_table('webhook_deliveries') as batch_op:
        batch_op.drop_column('response_body')
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('invited_at')
        batch_op.drop_column('password_token_expires_at')
        batch_op.drop_column('password_token_hash')
    with op.batch_alter_table('api_keys') as batch_op:
        batch_op.drop_column('last_used_at')
