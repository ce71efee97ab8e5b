"""the contracts register of the ledger (issue 13, R40): contracts with their periodic amounts;
receipts may name the contract they collect

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 06:20:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import Money, UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ledger_contract',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=20), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('counterparty', sa.String(length=200), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('amount', Money(), nullable=False),
        sa.Column('every_months', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=100), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by_name', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case_instance.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ledger_contract_village_id', 'ledger_contract', ['village_id'], unique=False)
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_ledger_entry_contract_id', ['contract_id'], unique=False)
        batch_op.create_foreign_key('fk_ledger_entry_contract', 'ledger_contract', ['contract_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ledger_entry_contract', type_='foreignkey')
        batch_op.drop_index('ix_ledger_entry_contract_id')
        batch_op.drop_column('contract_id')
    op.drop_index('ix_ledger_contract_village_id', table_name='ledger_contract')
    op.drop_table('ledger_contract')
