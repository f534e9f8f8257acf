"""pending_evaluations: the red-flag engine's queue of changed records, in place of records.needs_evaluation

Clearing the flag rewrote the whole record row (its compiled release inline) and an entry in each of its indexes
for every process a run evaluated: in a first run of 100,000 processes on PostgreSQL, 265 MB of the 1.3 GB of WAL
and ~3.4 s of the server's time. A queued record is now a narrow row of its own, removed once evaluated. A random
token, new at every change, replaces the release count as the guard against a change stored while the record was
being evaluated (a publisher's compiled-only record changes without a new release).

Revision ID: 0016
Revises: 0014
Create Date: 2026-11-24 06:20:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    # Read first: on SQLite, dropping the column rebuilds the records table, and with foreign keys on, dropping the
    # old copy would empty a queue that already referenced it.
    pending = [row[0] for row in connection.execute(sa.text("SELECT id FROM records WHERE needs_evaluation"))]
    op.drop_index("ix_records_dirty", table_name="records")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("needs_evaluation")
    queue = op.create_table(
        "pending_evaluations",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["records.id"],
            name=op.f("fk_pending_evaluations_record_id_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_pending_evaluations")),
    )
    for start in range(0, len(pending), 500):
        op.bulk_insert(queue, [{"record_id": i, "token": secrets.randbits(62)} for i in pending[start : start + 500]])


def downgrade() -> None:
    connection = op.get_bind()
    pending = [row[0] for row in connection.execute(sa.text("SELECT record_id FROM pending_evaluations"))]
    op.drop_table("pending_evaluations")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_evaluation", sa.Boolean(), nullable=False, server_default=sa.false()))
    for start in range(0, len(pending), 500):
        connection.execute(
            sa.text("UPDATE records SET needs_evaluation = true WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": pending[start : start + 500]},
        )
    op.create_index(
        "ix_records_dirty",
        "records",
        ["id"],
        postgresql_where=sa.text("needs_evaluation"),
        sqlite_where=sa.text("needs_evaluation = 1"),
    )
