"""records: a partial index of the dirty records (the incremental red-flag run's queue) replaces the flag's index

PostgreSQL, with statistics taken while every record was dirty, walked all records by id to find the few dirty
ones (126-200 ms per incremental run at 100,000 records); an index holding only dirty ids answers at once.

Revision ID: 0014
Revises: 0008
Create Date: 2026-11-23 17:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_records_dirty",
        "records",
        ["id"],
        postgresql_where=sa.text("needs_evaluation"),
        sqlite_where=sa.text("needs_evaluation = 1"),
    )
    op.drop_index("ix_records_needs_evaluation", table_name="records")


def downgrade() -> None:
    op.create_index("ix_records_needs_evaluation", "records", ["needs_evaluation"])
    op.drop_index("ix_records_dirty", table_name="records")
