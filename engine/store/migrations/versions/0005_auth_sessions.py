"""auth_session (revocable browser sessions and API tokens) and login_counter (shared, atomic login throttle) (issue 11)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 05:00:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import UTCDateTime

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'auth_session',
        sa.Column('id', sa.String(length=64), primary_key=True),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('person.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('password_tag', sa.String(length=64), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
    )
    op.create_index('ix_auth_session_user_id', 'auth_session', ['user_id'])
    op.create_table(
        'login_counter',
        sa.Column('key', sa.String(length=200), primary_key=True),
        sa.Column('window_start', UTCDateTime(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('login_counter')
    op.drop_index('ix_auth_session_user_id', table_name='auth_session')
    op.drop_table('auth_session')
