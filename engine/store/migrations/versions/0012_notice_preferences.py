"""notice preferences (issue 17): each person's channels, daily digest and quiet hours; an outbox
message knows whom it is for, the village of its event (the township desk) and its digest

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 08:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_prefs', sa.JSON(none_as_null=True), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('village_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('digest_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.create_index('ix_outbox_user_id', ['user_id'], unique=False)
        batch_op.create_index('ix_outbox_village_id', ['village_id'], unique=False)
        batch_op.create_foreign_key('fk_outbox_user', 'person', ['user_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key('fk_outbox_village', 'village', ['village_id'], ['id'])
        batch_op.create_foreign_key('fk_outbox_digest', 'outbox', ['digest_id'], ['id'], ondelete='SET NULL')
    # messages written before: whom (their notice's owner) and which village (their notice's case)
    op.execute("UPDATE outbox SET user_id = (SELECT n.user_id FROM notification n WHERE n.id = outbox.notification_id) "
               "WHERE notification_id IS NOT NULL")
    op.execute("UPDATE outbox SET village_id = (SELECT c.village_id FROM notification n JOIN case_instance c "
               "ON c.id = n.case_id WHERE n.id = outbox.notification_id) WHERE notification_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbox_digest', type_='foreignkey')
        batch_op.drop_constraint('fk_outbox_village', type_='foreignkey')
        batch_op.drop_constraint('fk_outbox_user', type_='foreignkey')
        batch_op.drop_index('ix_outbox_village_id')
        batch_op.drop_index('ix_outbox_user_id')
        batch_op.drop_column('body')
        batch_op.drop_column('digest_id')
        batch_op.drop_column('village_id')
        batch_op.drop_column('user_id')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('notice_prefs')
