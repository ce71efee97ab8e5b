"""no parallel scans on the OLTP tables (PostgreSQL)

The worklist, board and timer queries return a handful of rows through an index. With a long
history the planner, assuming ``state`` and ``village_id`` independent, expects tens of
thousands of rows (e.g. 41 064 for 20 at 10^6 tasks) and starts parallel workers: 30-80 ms for a
query that takes 0.05 ms. Measured in bench/ (queries.*); see README.md, section Performance.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:50:00
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TABLES = ("task", "case_instance", "board_entry", "audit_event", "objection")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f'ALTER TABLE "{table}" SET (parallel_workers = 0)')


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f'ALTER TABLE "{table}" RESET (parallel_workers)')
