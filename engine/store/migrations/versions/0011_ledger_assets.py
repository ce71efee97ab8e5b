"""the assets and resources register (issue 13, 资产/资源台账) with its status history; contracts
link the asset they let and the asset-disposal step that recorded them; receivable reminders told
once per due date and stage

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 08:10:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import Money, UTCDateTime

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ledger_asset',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=20), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('code', sa.String(length=50), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('location', sa.String(length=300), nullable=False),
        sa.Column('quantity', sa.String(length=30), nullable=False),
        sa.Column('unit', sa.String(length=20), nullable=False),
        sa.Column('original_value', Money(), nullable=True),
        sa.Column('book_value', Money(), nullable=True),
        sa.Column('acquired_on', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by_name', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ledger_asset_village_id', 'ledger_asset', ['village_id'], unique=False)
    with op.batch_alter_table('ledger_contract', schema=None) as batch_op:
        batch_op.add_column(sa.Column('asset_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('task_id', sa.String(length=36), nullable=True))
        batch_op.create_index('ix_ledger_contract_asset_id', ['asset_id'], unique=False)
        batch_op.create_unique_constraint('uq_ledger_contract_task_id', ['task_id'])
        batch_op.create_foreign_key('fk_ledger_contract_asset', 'ledger_asset', ['asset_id'], ['id'])
    op.create_table(
        'ledger_asset_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=False),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('status_from', sa.String(length=20), nullable=True),
        sa.Column('status_to', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('contract_id', sa.Integer(), nullable=True),
        sa.Column('by_name', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['asset_id'], ['ledger_asset.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case_instance.id']),
        sa.ForeignKeyConstraint(['contract_id'], ['ledger_contract.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ledger_asset_event_asset_id', 'ledger_asset_event', ['asset_id'], unique=False)
    op.create_table(
        'ledger_receivable_notice',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=False),
        sa.Column('at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['contract_id'], ['ledger_contract.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('contract_id', 'due_on', 'stage', name='uq_receivable_notice'),
    )


def downgrade() -> None:
    op.drop_table('ledger_receivable_notice')
    op.drop_index('ix_ledger_asset_event_asset_id', table_name='ledger_asset_event')
    op.drop_table('ledger_asset_event')
    with op.batch_alter_table('ledger_contract', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ledger_contract_asset', type_='foreignkey')
        batch_op.drop_constraint('uq_ledger_contract_task_id', type_='unique')
        batch_op.drop_index('ix_ledger_contract_asset_id')
        batch_op.drop_column('task_id')
        batch_op.drop_column('asset_id')
    op.drop_index('ix_ledger_asset_village_id', table_name='ledger_asset')
    op.drop_table('ledger_asset')
