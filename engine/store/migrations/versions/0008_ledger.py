"""the village ledger (issue 13, 三资 and 村财乡管): entries per accounting entity, append-only,
money exact (NUMERIC on PostgreSQL, fen on SQLite); disclosure periods opened once per village

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:30:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import Money, UTCDateTime

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ledger_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=20), nullable=False),
        sa.Column('direction', sa.String(length=3), nullable=False),
        sa.Column('amount', Money(), nullable=False),
        sa.Column('entry_date', sa.Date(), nullable=False),
        sa.Column('account', sa.String(length=100), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('counterparty', sa.String(length=200), nullable=False),
        sa.Column('voucher', sa.String(length=200), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('task_id', sa.String(length=36), nullable=True),
        sa.Column('reverses_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_by_name', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case_instance.id']),
        sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entry.id']),
        sa.ForeignKeyConstraint(['created_by'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('task_id'),
        sa.UniqueConstraint('reverses_id'),
    )
    op.create_index('ix_ledger_village_date', 'ledger_entry', ['village_id', 'entity', 'entry_date', 'id'],
                    unique=False)
    op.create_index('ix_ledger_entry_case_id', 'ledger_entry', ['case_id'], unique=False)
    op.create_table(
        'ledger_period',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('opened_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case_instance.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('village_id', 'period', name='uq_ledger_period'),
    )


def downgrade() -> None:
    op.drop_table('ledger_period')
    op.drop_index('ix_ledger_entry_case_id', table_name='ledger_entry')
    op.drop_index('ix_ledger_village_date', table_name='ledger_entry')
    op.drop_table('ledger_entry')
