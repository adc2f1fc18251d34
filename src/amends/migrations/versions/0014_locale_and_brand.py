"""Locales, time zones and the brand: a customer's `locale` (BCP 47, was `language`) and
`time_zone`, a user's console locale and zone, the organisation's default locale, zone,
supported locales, brand and SMS segment budget, the uploaded logos; message templates and
deliveries hold full locale tags.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 08:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import amends.db
from amends.citus import create_tenant_table

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHIPPED = '["en", "fr", "de", "es", "nl"]'
BRAND = (
    ('display_name', sa.String(length=200)), ('sender_name', sa.String(length=200)),
    ('sender_email', sa.String(length=320)), ('reply_to', sa.String(length=320)),
    ('brand_color', sa.String(length=7)), ('support_email', sa.String(length=320)),
    ('support_phone', sa.String(length=20)), ('support_url', sa.String(length=400)),
    ('logo_sha256', sa.String(length=64)),
)


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch_op:
        batch_op.alter_column('language', new_column_name='locale',
                              existing_type=sa.String(length=8), type_=sa.String(length=35),
                              nullable=True)
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))
    with op.batch_alter_table('organizations') as batch_op:
        batch_op.alter_column('default_language', new_column_name='default_locale',
                              existing_type=sa.String(length=8), type_=sa.String(length=35),
                              existing_nullable=False)
        batch_op.alter_column('timezone', new_column_name='time_zone',
                              existing_type=sa.String(length=64), existing_nullable=False)
        batch_op.add_column(sa.Column('supported_locales', sa.JSON(), nullable=False,
                                      server_default=SHIPPED))
        for name, kind in BRAND:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
        batch_op.add_column(sa.Column('sms_max_segments', sa.Integer(), nullable=False,
                                      server_default='3'))
    for table in ('message_templates', 'deliveries'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column('language', existing_type=sa.String(length=8),
                                  type_=sa.String(length=35), existing_nullable=False)
    create_tenant_table(
        'brand_logos',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('organization_id', sa.Uuid(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content_type', sa.String(length=40), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('created_at', amends.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_brand_logos_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('organization_id', 'id', name=op.f('pk_brand_logos')),
        sa.UniqueConstraint('organization_id', 'sha256',
                            name=op.f('uq_brand_logos_organization_id_sha256')),
    )


def downgrade() -> None:
    op.drop_table('brand_logos')
    # Tags longer than the old columns keep their language ('fr-CA' -> 'fr').
    for table in ('message_templates', 'deliveries'):
        op.execute(f"UPDATE {table} SET language = substr(language, 1, 2) "
                   "WHERE length(language) > 8")
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column('language', existing_type=sa.String(length=35),
                                  type_=sa.String(length=8), existing_nullable=False)
    op.execute("UPDATE organizations SET default_locale = substr(default_locale, 1, 2) "
               "WHERE length(default_locale) > 8")
    with op.batch_alter_table('organizations') as batch_op:
        batch_op.drop_column('sms_max_segments')
        for name, _ in reversed(BRAND):
            batch_op.drop_column(name)
        batch_op.drop_column('supported_locales')
        batch_op.alter_column('time_zone', new_column_name='timezone',
                              existing_type=sa.String(length=64), existing_nullable=False)
        batch_op.alter_column('default_locale', new_column_name='default_language',
                              existing_type=sa.String(length=35), type_=sa.String(length=8),
                              existing_nullable=False)
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.drop_column('locale')
    op.execute("UPDATE customers SET locale = COALESCE(substr(locale, 1, 2), 'en') "
               "WHERE locale IS NULL OR length(locale) > 8")
    with op.batch_alter_table('customers') as batch_op:
        batch_op.drop_column('time_zone')
        batch_op.alter_column('locale', new_column_name='language',
                              existing_type=sa.String(length=35), type_=sa.String(length=8),
                              nullable=False)
