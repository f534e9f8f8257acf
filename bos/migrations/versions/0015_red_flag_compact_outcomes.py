"""red_flag_processes.statuses and row_codes, red_flag_coverage; process outcomes that never flagged stop being rows

A first run wrote a row per process and indicator: at 100,000 processes 2.2 million rows, 81% of them "not flagged"
or "not applicable" with nothing a reader needs (and whose evidence, quoting peer statistics, was rewritten each
night a fence moved). From now on a process-grain outcome is a row when it is flagged or has insufficient data, or
when its indicator already has a row for that process (a flag that cleared keeps its history). Every process keeps
its per-indicator status in ``statuses`` ("R003=n R018=f", not applicable left out), which the coverage counts read,
and ``row_codes`` lists the indicators that have a row, so evaluation builds only those. ``red_flag_coverage``
keeps the catalogue's counts per indicator, grain and status by difference (counting 100,000 status strings on each
request took seconds).

Here: both columns and the counts are computed from the rows, then the rows of outcomes that never flagged and have
no event or response pointing at them are deleted (they hold no history: nothing was raised, cleared or answered
on them).

Revision ID: 0015
Revises: 0013
Create Date: 2026-11-23 20:30:00
"""

from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: One status per process and indicator over its rows (an indicator may have several per process, e.g. per item):
#: flagged if any is, else not flagged if any is, else insufficient data; not applicable is left out.
_LETTERS = {"flagged": "f", "not_flagged": "n", "insufficient_data": "i"}
_RANK = {"f": 0, "n": 1, "i": 2}
_STATUSES = {letter: status for status, letter in _LETTERS.items()}


def _per_process(connection: sa.Connection, columns: str) -> Iterator[tuple[str, list[tuple]]]:
    rows = connection.execute(
        sa.text(f"SELECT subject, {columns} FROM red_flags WHERE grain = 'process' ORDER BY subject")
    ).yield_per(5000)
    for ocid, group in groupby(rows, key=lambda row: row[0]):
        yield ocid, [tuple(row[1:]) for row in group]


def _write(connection: sa.Connection, column: str, values: list[dict[str, str]]) -> None:
    for start in range(0, len(values), 2000):
        connection.execute(
            sa.text(f"UPDATE red_flag_processes SET {column} = :value WHERE ocid = :ocid"),  # noqa: S608
            values[start : start + 2000],
        )


def upgrade() -> None:
    with op.batch_alter_table("red_flag_processes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statuses", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("row_codes", sa.Text(), nullable=True))
    coverage = op.create_table(
        "red_flag_coverage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("grain", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_red_flag_coverage")),
        sa.UniqueConstraint("source", "code", "grain", "status", name="uq_red_flag_coverage"),
    )
    connection = op.get_bind()
    # Read everything first, then write: one small string per process, never the rows themselves.
    statuses: list[dict[str, str]] = []
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for ocid, rows in _per_process(connection, "source, code, status"):
        best: dict[str, str] = {}
        for _source, code, status in rows:
            letter = _LETTERS.get(str(status))
            if letter and (code not in best or _RANK[letter] < _RANK[best[code]]):
                best[code] = letter
        statuses.append({"ocid": ocid, "value": " ".join(f"{c}={best[c]}" for c in sorted(best))})
        for code, letter in best.items():
            counts[(rows[0][0], code, "process", _STATUSES[letter])] += 1
    _write(connection, "statuses", statuses)
    for source, code, grain, status, n in connection.execute(
        sa.text(
            "SELECT source, code, grain, status, COUNT(*) FROM red_flags WHERE grain != 'process'"
            " GROUP BY source, code, grain, status"
        )
    ):
        counts[(source, code, grain, str(status))] += n
    op.bulk_insert(
        coverage,
        [{"source": k[0], "code": k[1], "grain": k[2], "status": k[3], "n": n} for k, n in sorted(counts.items())],
    )
    connection.execute(
        sa.text(
            "DELETE FROM red_flags WHERE grain = 'process' AND status IN ('not_flagged', 'not_applicable')"
            " AND first_raised_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM red_flag_events e WHERE e.flag_id = red_flags.id)"
            " AND NOT EXISTS (SELECT 1 FROM red_flag_responses r WHERE r.flag_id = red_flags.id)"
        )
    )
    row_codes = [
        {"ocid": ocid, "value": "|".join(sorted({code for (code,) in rows}))}
        for ocid, rows in _per_process(connection, "code")
    ]
    _write(connection, "row_codes", row_codes)
    connection.execute(sa.text("UPDATE red_flag_processes SET statuses = '' WHERE statuses IS NULL"))
    connection.execute(sa.text("UPDATE red_flag_processes SET row_codes = '' WHERE row_codes IS NULL"))


def downgrade() -> None:
    # The deleted rows are not brought back: the next full run with --full writes what the old code expects.
    op.drop_table("red_flag_coverage")
    with op.batch_alter_table("red_flag_processes", schema=None) as batch_op:
        batch_op.drop_column("row_codes")
        batch_op.drop_column("statuses")
