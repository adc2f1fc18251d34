"""Indexes for what the console looks up (a ticket reference, a customer's messages, a case's
pending request, an order a gesture was used on, a tracking number) and for exports of a
period of gestures; the items a parcel carries.

On PostgreSQL each index is built while its table is locked against writes (seconds per
million rows); a large installation can build them with `CREATE INDEX CONCURRENTLY` under the
same names before upgrading, and the upgrade then skips them (`if_not_exists`).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_cases_org_conversation", "cases", ["organization_id", "conversation_ref"]),
    ("ix_deliveries_org_customer", "deliveries", ["organization_id", "customer_id",
                                                  "created_at"]),
    ("ix_approvals_org_case", "approvals", ["organization_id", "case_id"]),
    ("ix_coupons_org_issued", "coupons", ["organization_id", "issued_at"]),
    ("ix_redemptions_org_order", "redemptions", ["organization_id", "order_id"]),
    ("ix_shipments_org_tracking", "shipments", ["organization_id", "tracking_number"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, if_not_exists=True)
    with op.batch_alter_table('shipments') as batch_op:
        batch_op.add_column(sa.Column('items', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shipments') as batch_op:
        batch_op.drop_column('items')
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table, if_exists=True)
