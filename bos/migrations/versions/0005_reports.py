"""report archive: every PDF handed out, with its SHA-256

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bos.db

revision: str = '0005'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('dossier', 'buyer_profile', 'watchdog', name='report_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('parameters', sa.Text(), nullable=True),
    sa.Column('generated_at', bos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data_cutoff', bos.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('data_digest', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.CheckConstraint('length(sha256) = 64', name=op.f('ck_reports_sha256_hex')),
    sa.CheckConstraint('size = length(pdf)', name=op.f('ck_reports_size_matches_pdf')),
    sa.CheckConstraint("language IN ('id', 'en')", name=op.f('ck_reports_language_known')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_reports_requested_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('sha256', name=op.f('uq_reports_sha256'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_kind_subject_digest', ['kind', 'subject', 'language', 'data_digest'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_kind_subject_digest')

    op.drop_table('reports')
