"""red flags: outcomes, events, per-process state, measures, baselines, contributions, totals, responses

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bos.db

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


STATUSES = ("flagged", "not_flagged", "insufficient_data", "not_applicable")


def upgrade() -> None:
    op.create_table(
        "red_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("grain", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("ocid", sa.String(length=128), nullable=True),
        sa.Column("buyer", sa.String(length=128), nullable=True),
        sa.Column("parties", sa.Text(), nullable=False),
        sa.Column("status", _enum("red_flag_status", *STATUSES), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("first_raised_at", bos.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_confirmed_at", bos.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", bos.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dismissed_at", bos.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("evaluated_at", bos.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flags")),
        sa.UniqueConstraint("source", "code", "grain", "subject", "key", name="uq_red_flags_subject"),
    )
    with op.batch_alter_table("red_flags", schema=None) as batch_op:
        batch_op.create_index("ix_red_flags_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_red_flags_code_status_id", ["code", "status", "id"], unique=False)
        batch_op.create_index("ix_red_flags_buyer_status", ["buyer", "status"], unique=False)
        batch_op.create_index("ix_red_flags_ocid", ["ocid"], unique=False)

    op.create_table(
        "red_flag_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("red_flag_event_kind", "raised", "cleared", "changed"), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("grain", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("ocid", sa.String(length=128), nullable=True),
        sa.Column("buyer", sa.String(length=128), nullable=True),
        sa.Column("status_from", sa.String(length=32), nullable=True),
        sa.Column("status_to", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("at", bos.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["red_flags.id"], name=op.f("fk_red_flag_events_flag_id_red_flags")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_events")),
    )
    with op.batch_alter_table("red_flag_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_red_flag_events_flag_id"), ["flag_id"], unique=False)

    op.create_table(
        "red_flag_processes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ocid", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("buyer", sa.String(length=128), nullable=True),
        sa.Column("compiled_sha", sa.String(length=64), nullable=False),
        sa.Column("rules_sha", sa.String(length=64), nullable=False),
        sa.Column("outcomes_sha", sa.String(length=64), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("applicable", sa.Integer(), nullable=False),
        sa.Column("evaluated", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("evaluated_at", bos.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_processes")),
        sa.UniqueConstraint("ocid", name=op.f("uq_red_flag_processes_ocid")),
    )
    with op.batch_alter_table("red_flag_processes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_red_flag_processes_buyer"), ["buyer"], unique=False)

    op.create_table(
        "red_flag_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ocid", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("peer_key", sa.String(length=300), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_measures")),
    )
    with op.batch_alter_table("red_flag_measures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_red_flag_measures_ocid"), ["ocid"], unique=False)
        batch_op.create_index("ix_red_flag_measures_peer", ["source", "code", "peer_key"], unique=False)

    op.create_table(
        "red_flag_baselines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("peer_key", sa.String(length=300), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("computed_at", bos.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_baselines")),
        sa.UniqueConstraint("source", "code", "peer_key", name="uq_red_flag_baselines_peer"),
    )

    op.create_table(
        "red_flag_contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ocid", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("grain", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=False),
        sa.Column("denominator", sa.Float(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("date", sa.String(length=64), nullable=True),
        sa.Column("attrs", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_contributions")),
    )
    with op.batch_alter_table("red_flag_contributions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_red_flag_contributions_ocid"), ["ocid"], unique=False)
        batch_op.create_index(
            "ix_red_flag_contributions_subject", ["source", "code", "grain", "subject", "key"], unique=False
        )

    op.create_table(
        "red_flag_org_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("grain", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("numerator", sa.Float(), nullable=False),
        sa.Column("denominator", sa.Float(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_org_totals")),
        sa.UniqueConstraint("source", "code", "grain", "subject", "key", name="uq_red_flag_org_totals"),
    )

    op.create_table(
        "red_flag_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("red_flag_response_kind", "response", "annotation", "dismissal"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", bos.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["flag_id"], ["red_flags.id"], name=op.f("fk_red_flag_responses_flag_id_red_flags")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_red_flag_responses_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_responses")),
    )
    with op.batch_alter_table("red_flag_responses", schema=None) as batch_op:
        batch_op.create_index("ix_red_flag_responses_flag", ["flag_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_red_flag_responses_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    for table in (
        "red_flag_responses",
        "red_flag_org_totals",
        "red_flag_contributions",
        "red_flag_baselines",
        "red_flag_measures",
        "red_flag_processes",
        "red_flag_events",
        "red_flags",
    ):
        op.drop_table(table)
