"""notice photos (issue 14, R44): an attachment may be the photo of a posted notice, named by the
board entry it shows (``entry_id``) rather than bound to a step's record

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 08:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entry_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_attachment_entry_id', ['entry_id'], unique=False)
        batch_op.create_foreign_key('fk_attachment_entry', 'board_entry', ['entry_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_attachment_entry', type_='foreignkey')
        batch_op.drop_index('ix_attachment_entry_id')
        batch_op.drop_column('entry_id')
