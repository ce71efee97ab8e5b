"""attachments: evidence uploaded to a task, content-addressed by SHA-256 (issue 14); board entries
name their public photos

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 05:00:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'attachment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('public_sha256', sa.String(length=64), nullable=True),
        sa.Column('uploaded_by', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('bound_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case_instance.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['task_id'], ['task.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['uploaded_by'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_attachment_case_task', 'attachment', ['case_id', 'task_id'], unique=False)
    op.create_index('ix_attachment_task_id', 'attachment', ['task_id'], unique=False)
    op.create_index('ix_attachment_sha256', 'attachment', ['sha256'], unique=False)
    with op.batch_alter_table('board_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('board_entry', schema=None) as batch_op:
        batch_op.drop_column('evidence')
    op.drop_index('ix_attachment_sha256', table_name='attachment')
    op.drop_index('ix_attachment_task_id', table_name='attachment')
    op.drop_index('ix_attachment_case_task', table_name='attachment')
    op.drop_table('attachment')
