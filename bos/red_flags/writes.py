"""Bulk writes of the red-flag engine straight through the DBAPI cursor, with the values SQLAlchemy would bind.

A first run writes millions of rows (measures, contributions, flags and insufficient data of every process).
Through a Core ``insert(table)`` executemany, SQLAlchemy builds and type-processes every parameter set (UTC
datetimes, enums), which cost more than the database's own work. Here each column's bind processor is taken from the column type for the
connection's dialect, so the stored values are exactly those of the Core statement, and applied once per distinct
value (a run binds one ``now`` and four statuses), then the statement goes to the cursor as one executemany, or on
PostgreSQL, for more than a few rows, as ``COPY ... FROM STDIN``.

``PLAIN`` switches every write back to the Core statements (the tests compare both paths row for row).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from psycopg.adapt import PyFormat
from sqlalchemy import Float, Table, bindparam, func, insert, select, text, update
from sqlalchemy.engine import Connection

#: Write through Core statements instead (tests: both paths must store the same rows).
PLAIN = False

#: From how many rows PostgreSQL gets ``COPY`` rather than an executemany: COPY costs two round trips of its own
#: (start, end), the executemany one pipelined batch, so for the few rows of an incremental run the latter wins.
COPY_FROM = 50

_MEMO_LIMIT = 64  # distinct values memoised per column: datetimes and enums have a handful per run


def _memoised(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    memo: dict[Any, Any] = {}
    null = process(None)

    def convert(value: Any) -> Any:
        if value is None:
            return null
        try:
            return memo[value]
        except KeyError:
            converted = process(value)
            if len(memo) < _MEMO_LIMIT:
                memo[value] = converted
            return converted
        except TypeError:  # unhashable: convert each time
            return process(value)

    return convert


def _converters(
    connection: Connection, table: Table, columns: Sequence[str], copy: bool = False
) -> list[Callable[[Any], Any] | None]:
    """The bind processor of each column for the connection's dialect, memoised for this call (so a memo holding
    ``now`` does not outlive the write); None where values pass as they are.

    ``copy``: the rows go to PostgreSQL's ``COPY``, which has no types, only text. A datetime there is given as the
    text psycopg would write for it, so it is formatted once per distinct value instead of once per row: ~2 us a
    value, ~3 per flagged row, which was ~1.5 s of the parent's CPU in a first run of 100,000 processes."""
    dialect = connection.dialect
    as_text = _copy_text(connection) if copy else None
    converters: list[Callable[[Any], Any] | None] = []
    for name in columns:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if as_text is not None and process is not None:
            process = _then(process, as_text)
        converters.append(_memoised(process) if process is not None else None)
    return converters


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: second(first(value))


def _copy_text(connection: Connection) -> Callable[[Any], Any]:
    """A datetime as the text psycopg's own dumper writes for it in ``COPY``; any other value as it is."""
    adapters = connection.connection.driver_connection.adapters  # type: ignore[union-attr]

    def as_text(value: Any) -> Any:
        if not isinstance(value, dt.datetime):
            return value
        dumper = adapters.get_dumper(type(value), PyFormat.TEXT)(type(value))
        return bytes(dumper.dump(value)).decode()

    return as_text


def _copies(connection: Connection, count: int) -> bool:
    return connection.dialect.name == "postgresql" and count >= COPY_FROM


def _values(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], converters: Sequence[Any]) -> list[tuple]:
    """Each row's values in ``columns`` order, converted where the column has a converter.

    Read all at once (itemgetter), then only the converted positions touched: 2.0 instead of 3.4 us per red_flags
    row, which a first run of 100,000 processes writes ~450,000 of."""
    strict_zip = zip(columns, converters, strict=True)
    converting = [(position, convert) for position, (_name, convert) in enumerate(strict_zip) if convert is not None]
    read = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)  # always a tuple
    if not converting:
        return [read(row) for row in rows]
    values = []
    for row in rows:
        found = list(read(row))
        for position, convert in converting:
            found[position] = convert(found[position])
        values.append(tuple(found))
    return values


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT`` these rows (dicts with the same keys); ids are left to the database unless the rows have them
    (``reserve_ids``)."""
    if not rows:
        return
    if PLAIN:
        connection.execute(insert(table), list(rows))
        return
    columns = list(rows[0])
    copy = _copies(connection, len(rows))
    _insert(connection, table, columns, _values(rows, columns, _converters(connection, table, columns, copy)), copy)


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """Ids for ``count`` rows of ``table`` about to be inserted in this transaction, so that the caller knows them
    without reading the rows back (``COPY`` returns none).

    PostgreSQL: the next values of the id column's sequence, so concurrent inserts never collide. SQLite: the ids
    after the largest one, as SQLite itself would give them; a transaction that writes has the database to itself
    until it commits, and the engine's lease keeps other runs from inserting rows of these tables meanwhile."""
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        sequence = connection.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name})
        reserved = text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)")
        return list(connection.scalars(reserved, {"sequence": sequence, "count": count}))
    start = (connection.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(start, start + count))


def insert_values(connection: Connection, table: Table, columns: Sequence[str], values: list[tuple]) -> None:
    """``INSERT`` rows given as tuples in ``columns`` order, as built by worker processes, already as the columns'
    bind processors would leave them: text, and numbers as ``float`` or None.

    The only bind processor either dialect has for the columns of measures and contributions is SQLite's ``Float``
    one, ``float(value)``, which leaves a float as it is. Applying it anyway meant rebuilding every tuple, ~2 s of the
    parent's CPU in the first pass of a 100,000-process first run, where the parent is the critical path."""
    if not values:
        return
    if PLAIN:
        connection.execute(insert(table), [dict(zip(columns, value, strict=True)) for value in values])
        return
    for name, convert in zip(columns, _converters(connection, table, columns), strict=True):
        if convert is not None and not isinstance(table.c[name].type, Float):
            raise ValueError(f"{table.name}.{name} converts its values: insert it with insert_rows")
    _insert(connection, table, list(columns), values, _copies(connection, len(values)))


def _insert(connection: Connection, table: Table, columns: list[str], values: list[tuple], copy: bool) -> None:
    dialect = connection.dialect
    if copy:
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(name) for name in columns)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as stream:
                for value in values:
                    stream.write_row(value)
        finally:
            cursor.close()
        return
    sql, order = _compiled(dialect, "insert", table, tuple(columns))
    connection.exec_driver_sql(sql, _bind(order, columns, values))


def update_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``UPDATE table SET ... WHERE id = :b_id`` for each row (dicts with the same keys, ``b_id`` the row's id)."""
    if not rows:
        return
    columns = [name for name in rows[0] if name != "b_id"]
    if any(c.onupdate is not None and c.name not in columns for c in table.c):
        raise ValueError(f"{table.name} has onupdate defaults: update it through Core")
    if PLAIN:
        connection.execute(_statement("update", table, tuple(columns)), list(rows))
        return
    names = [*columns, "b_id"]
    converters = [*_converters(connection, table, columns), None]
    sql, order = _compiled(connection.dialect, "update", table, tuple(columns))
    connection.exec_driver_sql(sql, _bind(order, names, _values(rows, names, converters)))


def _statement(kind: str, table: Table, columns: tuple[str, ...]) -> Any:
    values = {name: bindparam(name) for name in columns}
    if kind == "insert":
        return insert(table).values(values)
    return update(table).where(table.c.id == bindparam("b_id")).values(values)


_COMPILED: dict[tuple[str, str, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}


def _compiled(dialect: Any, kind: str, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...] | None]:
    """The statement's SQL for this dialect and its parameter order (None: named parameters), compiled once: the
    incremental run writes a few rows at a time, where compiling cost more than writing."""
    key = (dialect.name, kind, table.name, columns)
    if key not in _COMPILED:
        compiled = _statement(kind, table, columns).compile(dialect=dialect)
        _COMPILED[key] = (str(compiled), tuple(compiled.positiontup) if compiled.positional else None)
    return _COMPILED[key]


def _bind(order: tuple[str, ...] | None, columns: Sequence[str], values: list[tuple]) -> Any:
    """Parameters in the dialect's style: tuples in the statement's order (qmark), else dicts by name."""
    if order is not None:
        positions = [columns.index(name) for name in order]
        if positions == list(range(len(columns))):
            return values
        return [tuple(value[i] for i in positions) for value in values]
    return [dict(zip(columns, value, strict=True)) for value in values]
