"""leads: complaint leads (问题线索, 速查快办, issue 12) and loaded holiday schedules

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 05:30:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.models import UTCDateTime

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'lead',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('category', sa.String(length=20), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=True),
        sa.Column('contact', sa.String(length=200), nullable=True),
        sa.Column('real_name', sa.Boolean(), nullable=False),
        sa.Column('to_county', sa.Boolean(), nullable=False),
        sa.Column('about_case_id', sa.Integer(), nullable=True),
        sa.Column('about_entry_id', sa.Integer(), nullable=True),
        sa.Column('entered_by', sa.Integer(), nullable=True),
        sa.Column('received_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('accept_due', UTCDateTime(timezone=True), nullable=False),
        sa.Column('forward_due', UTCDateTime(timezone=True), nullable=False),
        sa.Column('due_estimated', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('accepted_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('disposition', sa.String(length=30), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('assignment', sa.JSON(), nullable=True),
        sa.Column('finding', sa.String(length=20), nullable=True),
        sa.Column('closed_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('feedback', sa.Text(), nullable=True),
        sa.Column('feedback_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('objection', sa.Text(), nullable=True),
        sa.Column('objection_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('objection_until', UTCDateTime(timezone=True), nullable=True),
        sa.Column('review', sa.Text(), nullable=True),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('rating_comment', sa.Text(), nullable=True),
        sa.Column('rated_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case_instance.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['village_id'], ['village.id']),
        sa.ForeignKeyConstraint(['about_case_id'], ['case_instance.id']),
        sa.ForeignKeyConstraint(['about_entry_id'], ['board_entry.id']),
        sa.ForeignKeyConstraint(['entered_by'], ['person.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
        sa.UniqueConstraint('case_id'),
    )
    op.create_index('ix_lead_village_status', 'lead', ['village_id', 'status'], unique=False)
    op.create_table(
        'holiday_day',
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('workday', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('day'),
    )
    op.create_index('ix_holiday_day_year', 'holiday_day', ['year'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_holiday_day_year', table_name='holiday_day')
    op.drop_table('holiday_day')
    op.drop_index('ix_lead_village_status', table_name='lead')
    op.drop_table('lead')
