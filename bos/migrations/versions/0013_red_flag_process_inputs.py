"""red_flag_processes: what a process's last evaluation read besides its release, to skip it when unchanged

inputs_sha digests the rules, the main currency, the stored baselines it compared with (listed in baseline_keys)
and, for an outcome that can change with the day alone (day_bound), the day. The nightly full run re-evaluates a
process that is not dirty only when that digest moved; flagged_codes lets it confirm the flags of one it skips.
NULL (rows written before) never matches, so those processes are evaluated once more and then carry the columns.

Revision ID: 0013
Revises: 0004
Create Date: 2026-11-23 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("red_flag_processes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inputs_sha", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("baseline_keys", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("flagged_codes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("day_bound", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("red_flag_processes", schema=None) as batch_op:
        for column in ("day_bound", "flagged_codes", "baseline_keys", "inputs_sha"):
            batch_op.drop_column(column)
