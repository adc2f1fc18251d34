"""The schema distributable by organisation: every tenant table's primary key is
(organization_id, id), its unique constraints include organization_id, and its foreign keys
to other tenant tables are composite (organization_id, x_id); the audit log is append-only by
privileges instead of a trigger on PostgreSQL. Keys are rewritten in place: no row is copied
out or lost (SQLite rebuilds each table, as it must to change a key).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

from alembic import op
from alembic.operations import BatchOperations

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table owned by one organisation ("rollup_runs" is keyed by organization_id alone,
# "jobs" and "idempotency_keys" hold rows of no organisation and stay local on Citus).
TENANT_TABLES = (
    'customers', 'code_pools', 'incentives', 'users', 'api_keys', 'user_sessions', 'audit_events',
    'reasons', 'cases', 'case_events', 'coupons', 'redemptions', 'reservations',
    'gift_card_entries', 'pool_codes', 'pool_imports', 'authority_limits', 'budget_usage',
    'approvals', 'channel_configs', 'message_templates', 'deliveries', 'webhook_endpoints',
    'webhook_deliveries', 'suppressions', 'events', 'orders', 'shipments', 'recovery_rules',
    'rule_firings', 'incidents', 'incident_customers', 'ledger_rollup', 'outcome_rollup',
)
# (table, column, parent, ON DELETE): the keys between tenant tables.
TENANT_KEYS = (
    ('incentives', 'code_pool_id', 'code_pools', 'RESTRICT'),
    ('user_sessions', 'user_id', 'users', 'CASCADE'),
    ('cases', 'customer_id', 'customers', 'CASCADE'),
    ('case_events', 'case_id', 'cases', 'CASCADE'),
    ('coupons', 'customer_id', 'customers', 'CASCADE'),
    ('coupons', 'incentive_id', 'incentives', 'RESTRICT'),
    ('redemptions', 'coupon_id', 'coupons', 'CASCADE'),
    ('reservations', 'coupon_id', 'coupons', 'CASCADE'),
    ('gift_card_entries', 'coupon_id', 'coupons', 'CASCADE'),
    ('pool_codes', 'pool_id', 'code_pools', 'CASCADE'),
    ('pool_imports', 'pool_id', 'code_pools', 'CASCADE'),
    ('approvals', 'customer_id', 'customers', 'CASCADE'),
    ('approvals', 'incentive_id', 'incentives', 'CASCADE'),
    ('approvals', 'case_id', 'cases', 'CASCADE'),
    ('deliveries', 'coupon_id', 'coupons', 'CASCADE'),
    ('deliveries', 'case_id', 'cases', 'CASCADE'),
    ('deliveries', 'customer_id', 'customers', 'CASCADE'),
    ('webhook_deliveries', 'endpoint_id', 'webhook_endpoints', 'CASCADE'),
    ('suppressions', 'customer_id', 'customers', 'CASCADE'),
    ('orders', 'customer_id', 'customers', 'CASCADE'),
    ('shipments', 'customer_id', 'customers', 'CASCADE'),
    ('rule_firings', 'rule_id', 'recovery_rules', 'CASCADE'),
    ('rule_firings', 'shipment_id', 'shipments', 'CASCADE'),
    ('incidents', 'incentive_id', 'incentives', 'RESTRICT'),
    ('incident_customers', 'incident_id', 'incidents', 'CASCADE'),
    ('incident_customers', 'customer_id', 'customers', 'CASCADE'),
)
# Keys that were ON DELETE SET NULL: Citus cannot null a key that holds the distribution
# column, so the application clears these (nothing deletes users or cases today).
CLEARED_KEYS = (
    ('api_keys', 'created_by_user_id', 'users'),
    ('rule_firings', 'case_id', 'cases'),
)
# (table, old name, old columns, new name, new columns)
UNIQUES = (
    ('coupons', 'uq_coupons_page_token', ['page_token'],
     'uq_coupons_organization_id_page_token', ['organization_id', 'page_token']),
    ('user_sessions', 'uq_user_sessions_token_hash', ['token_hash'],
     'uq_user_sessions_organization_id_token_hash', ['organization_id', 'token_hash']),
    ('incident_customers', 'uq_incident_customers_incident_id_customer_external_id',
     ['incident_id', 'customer_external_id'],
     'uq_incident_customers_org_incident_external', ['organization_id', 'incident_id',
                                                     'customer_external_id']),
    ('incident_customers', 'uq_incident_customers_incident_id_seq', ['incident_id', 'seq'],
     'uq_incident_customers_org_incident_seq', ['organization_id', 'incident_id', 'seq']),
)
# (table, name, old columns, new columns); None: no such index on that side
INDEXES: tuple[tuple[str, str, list[str] | None, list[str] | None], ...] = (
    ('incident_customers', 'ix_incident_customers_state', ['incident_id', 'state', 'seq'],
     ['organization_id', 'incident_id', 'state', 'seq']),
    ('user_sessions', 'ix_user_sessions_user_id', ['user_id'], None),
    ('user_sessions', 'ix_user_sessions_org_user', None, ['organization_id', 'user_id']),
    # Pages of tokens made before they carried their organisation are found by token alone.
    ('coupons', 'ix_coupons_page_token', None, ['page_token']),
)
_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
    for verb in ("UPDATE", "DELETE")]
_PG_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION amends_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql
"""


def _fk_name(table: str, column: str, parent: str) -> str:
    return op.f(f'fk_{table}_{column}_{parent}')


def _keys_of(table: str) -> list[tuple[str, str, str, str]]:
    return [key for key in TENANT_KEYS if key[0] == table]


def _single_keys(batch_op: BatchOperations, table: str, *, create: bool) -> None:
    """The keys on one column to tenant tables, as they were before this revision."""
    for _, column, parent, ondelete in _keys_of(table):
        if create:
            batch_op.create_foreign_key(_fk_name(table, column, parent), parent,
                                        [column], ['id'], ondelete=ondelete)
        else:
            batch_op.drop_constraint(_fk_name(table, column, parent), type_='foreignkey')
    for cleared_table, column, parent in CLEARED_KEYS:
        if cleared_table == table:
            if create:
                batch_op.create_foreign_key(_fk_name(table, column, parent), parent,
                                            [column], ['id'], ondelete='SET NULL')
            else:
                batch_op.drop_constraint(_fk_name(table, column, parent), type_='foreignkey')


def _composite_keys(batch_op: BatchOperations, table: str, *, create: bool) -> None:
    for _, column, parent, ondelete in _keys_of(table):
        name = _fk_name(table, 'organization_id', parent)
        if create:
            batch_op.create_foreign_key(name, parent, ['organization_id', column],
                                        ['organization_id', 'id'], ondelete=ondelete)
        else:
            batch_op.drop_constraint(name, type_='foreignkey')


def _keys_and_uniques(batch_op: BatchOperations, table: str, *, distributable: bool) -> None:
    pk = op.f(f'pk_{table}')
    batch_op.drop_constraint(pk, type_='primary')
    batch_op.create_primary_key(pk, ['organization_id', 'id'] if distributable else ['id'])
    for unique_table, old, old_columns, new, new_columns in UNIQUES:
        if unique_table != table:
            continue
        drop, create = (old, new) if distributable else (new, old)
        columns = new_columns if distributable else old_columns
        batch_op.drop_constraint(op.f(drop), type_='unique')
        batch_op.create_unique_constraint(op.f(create), columns)
    for index_table, name, index_before, index_after in INDEXES:
        if index_table != table:
            continue
        before = index_before if distributable else index_after
        after = index_after if distributable else index_before
        if before is not None:
            batch_op.drop_index(op.f(name))
        if after is not None:
            batch_op.create_index(op.f(name), after, unique=False)


def _drop_keys(batch_op: BatchOperations, table: str, *, distributable: bool) -> None:
    """Drop the keys between tenant tables of the side being left."""
    (_single_keys if distributable else _composite_keys)(batch_op, table, create=False)


def _add_keys(batch_op: BatchOperations, table: str, *, distributable: bool) -> None:
    """Create the keys between tenant tables of the side being reached."""
    (_composite_keys if distributable else _single_keys)(batch_op, table, create=True)


def _rewrite(*, distributable: bool) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # One rebuild per table does it all (SQLite checks no key while it migrates).
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
        for table in TENANT_TABLES:
            with op.batch_alter_table(table, recreate='always') as batch_op:
                _drop_keys(batch_op, table, distributable=distributable)
                _keys_and_uniques(batch_op, table, distributable=distributable)
                _add_keys(batch_op, table, distributable=distributable)
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
        return
    # PostgreSQL: a primary key can only change once no key references it, so in three
    # passes: drop the keys between tenant tables, rewrite the primary and unique keys, then
    # create the keys again.
    for step in (_drop_keys, _keys_and_uniques, _add_keys):
        for table in TENANT_TABLES:
            with op.batch_alter_table(table) as batch_op:
                step(batch_op, table, distributable=distributable)


def upgrade() -> None:
    _rewrite(distributable=True)
    if op.get_bind().dialect.name == 'postgresql':
        # Append-only by privileges, which distributed tables keep (a trigger on every shard
        # is what Citus calls unsafe). Nobody, the owner included, may change or delete an
        # event; the application must not run as a superuser, who bypasses privileges.
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION amends_audit_append_only()")
        op.execute("REVOKE UPDATE, DELETE ON audit_events FROM PUBLIC, CURRENT_USER")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("GRANT UPDATE, DELETE ON audit_events TO CURRENT_USER")
        op.execute(_PG_TRIGGER_FUNCTION)
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION amends_audit_append_only()")
    _rewrite(distributable=False)
