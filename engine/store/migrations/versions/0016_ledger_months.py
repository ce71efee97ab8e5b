"""the ledger summed per village, entity, month, direction and account (ledger_month), filled from
the entries; an index for the ledger read by date without an entity filter (issue 13: the ledger
view and the statement stay flat with 10^5 entries)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 08:20:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import Money

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ledger_month',
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=20), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('direction', sa.String(length=3), nullable=False),
        sa.Column('account', sa.String(length=100), nullable=False),
        sa.Column('amount', Money(), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.PrimaryKeyConstraint('village_id', 'entity', 'month', 'direction', 'account'),
    )
    op.create_index('ix_ledger_village_day', 'ledger_entry', ['village_id', 'entry_date', 'id'], unique=False)
    from engine.records.ledger_months import rebuild_months

    rebuild_months(op.get_bind())


def downgrade() -> None:
    op.drop_index('ix_ledger_village_day', table_name='ledger_entry')
    op.drop_table('ledger_month')
