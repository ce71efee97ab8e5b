"""county: villages belong to a county; county-scoped role assignments; who placed a hold at which level (issue 10)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 02:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('village', schema=None) as batch_op:
        batch_op.add_column(sa.Column('county', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_village_county', ['county'], unique=False)
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('county', sa.String(length=200), nullable=True))
    with op.batch_alter_table('case_instance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_by', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('hold_level', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case_instance', schema=None) as batch_op:
        batch_op.drop_column('hold_level')
        batch_op.drop_column('hold_by')
    with op.batch_alter_table('role_assignment', schema=None) as batch_op:
        batch_op.drop_column('county')
    with op.batch_alter_table('village', schema=None) as batch_op:
        batch_op.drop_index('ix_village_county')
        batch_op.drop_column('county')
