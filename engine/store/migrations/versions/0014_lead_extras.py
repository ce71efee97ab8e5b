"""lead extras (issue 12): 一案双查 accountability records and the county's 督办 of a lead

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 08:00:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import UTCDateTime

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.add_column(sa.Column('supervised_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('supervised_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('supervision_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('supervision_due', UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_lead_supervised_by', 'person', ['supervised_by'], ['id'])
    op.create_table(
        'lead_accountability',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('person', sa.String(length=100), nullable=False),
        sa.Column('position', sa.String(length=100), nullable=False),
        sa.Column('duty', sa.String(length=20), nullable=False),
        sa.Column('measure', sa.String(length=30), nullable=False),
        sa.Column('decided_on', sa.String(length=10), nullable=False),
        sa.Column('decided_by', sa.String(length=100), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
        sa.Column('recorded_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['recorded_by'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_lead_accountability_lead_id', 'lead_accountability', ['lead_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_lead_accountability_lead_id', table_name='lead_accountability')
    op.drop_table('lead_accountability')
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_constraint('fk_lead_supervised_by', type_='foreignkey')
        batch_op.drop_column('supervision_due')
        batch_op.drop_column('supervision_reason')
        batch_op.drop_column('supervised_at')
        batch_op.drop_column('supervised_by')
