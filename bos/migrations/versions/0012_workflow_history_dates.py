"""The dates a process's release history needs: bid evaluation, milestone addition, contract closing

bids.evaluated_at, milestones.added_at and contracts.closed_at record when those steps were published, so the
release builder can replay a process's history exactly (the demo seed's bulk path) and the releases it writes
equal those the services published. NULL keeps the earlier reading (evaluated at opening, milestone part of the
signed contract, contract closed after its last payment).

Revision ID: 0012
Revises: 0003
Create Date: 2026-11-23 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bos.db import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("bids", "evaluated_at"), ("milestones", "added_at"), ("contracts", "closed_at"))


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
