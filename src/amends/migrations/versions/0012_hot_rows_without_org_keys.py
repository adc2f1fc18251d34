"""Redemptions and audit events keep their organisation id without a foreign key: on
PostgreSQL each key check locked the one organisation row, and concurrent tills contended on
it (audit events could never cascade anyway: they are append-only)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = (('redemptions', 'fk_redemptions_organization_id_organizations'),
         ('audit_events', 'fk_audit_events_organization_id_organizations'))
# SQLite rebuilds a table to change its keys: the append-only triggers go for the copy and
# are put back after.
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    for verb in ("UPDATE", "DELETE")]


def _rebuild(change: str) -> None:
    """Drop (`upgrade`) or restore (`downgrade`) the two keys."""
    sqlite = op.get_bind().dialect.name == 'sqlite'
    if sqlite:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    for table, key in _KEYS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            if change == 'drop':
                batch_op.drop_constraint(key, type_='foreignkey')
            else:
                batch_op.create_foreign_key(key, 'organizations', ['organization_id'], ['id'],
                                            ondelete='CASCADE')
    if sqlite:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)


def upgrade() -> None:
    _rebuild('drop')


def downgrade() -> None:
    _rebuild('restore')
