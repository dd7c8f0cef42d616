"""One connection to the server's database, SQLite or PostgreSQL, behind one small API.

The stores write their SQL once, with `?` placeholders and the subset both databases speak
(`INSERT … ON CONFLICT`, `excluded.col`, double-quoted names), and change things only inside
`with db.transaction(*locks):`, the one transaction idiom. What a transaction reads stays
true until it commits:

- SQLite has one writer at a time: a transaction takes the file's write lock at once
  (BEGIN IMMEDIATE, after a lock file that wakes waiting processes the moment it is free).
- PostgreSQL lets writers run side by side, so a transaction names what it reads and then
  changes (`locks`, e.g. "round:shop"); each name is a transaction-scoped advisory lock, so
  two replicas never both close one round or spend one token.

Transactions nest: an inner one joins the outer one on the same thread.

>>> db = connect(":memory:")
>>> with db.transaction():
...     _ = db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT)")
...     db.executemany("INSERT INTO t (k, n) VALUES (?, ?)", [("a", 1), ("b", 2)])
>>> db.rows("SELECT * FROM t ORDER BY k"), db.value("SELECT sum(n) FROM t")
([{'k': 'a', 'n': 1}, {'k': 'b', 'n': 2}], 3)
>>> db["t"].count_where("n > ?", [1])
1
>>> with db.transaction():
...     db.insert_rows("t", ["k", "n"], [("c", 3), ("d", 4)])
>>> db.existing("t", ["k"], [("a",), ("d",), ("z",)]) == {("a",), ("d",)}
True
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar

import orjson

URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://", re.IGNORECASE)
POSTGRES_SCHEMES = ("postgresql", "postgres")


class UnknownDatabase(ValueError):
    """`--db` names something that is neither a SQLite file nor a PostgreSQL URL."""


def parse_target(text: str | Path) -> str | Path:
    """A PostgreSQL URL as it is, anything else as a SQLite file's path; other URLs are refused.

    >>> parse_target("data/p13n.db"), parse_target("postgresql://app@db.internal/p13n")
    (PosixPath('data/p13n.db'), 'postgresql://app@db.internal/p13n')
    >>> parse_target("mysql://x/y")
    Traceback (most recent call last):
    ...
    sync_server.storage.database.UnknownDatabase: 'mysql://x/y' is a mysql URL: give a SQLite file's path or a postgresql:// URL
    """
    if isinstance(text, Path):
        return text
    scheme = URL.match(text)
    if scheme is None:
        return Path(text)
    if scheme["scheme"].lower() in POSTGRES_SCHEMES:
        return text
    raise UnknownDatabase(f"{text!r} is a {scheme['scheme']} URL: give a SQLite file's path or a postgresql:// URL")


def is_postgres(target: str | Path) -> bool:
    return isinstance(parse_target(target), str)


def connect(target: str | Path) -> Database:
    """The database `target` names: a PostgreSQL URL, or a SQLite file (made if missing)."""
    target = parse_target(target)
    return PostgresDatabase(target) if isinstance(target, str) else SQLiteDatabase(target)


class Result:
    """What a statement returned, already fetched: rows as tuples, and how many it changed."""

    def __init__(self, rows: list[tuple], columns: list[str], rowcount: int) -> None:
        self.rows, self.columns, self.rowcount = rows, columns, rowcount

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def fetchone(self) -> tuple | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple]:
        return self.rows

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]


class Table:
    """A few sqlite-utils-style reads of one table, for tests and the command line."""

    def __init__(self, db: Database, name: str) -> None:
        self.db, self.name = db, name

    def rows_where(self, where: str | None = None, params: Sequence = (), select: str = "*",
                   order_by: str | None = None, limit: int | None = None) -> Iterator[dict]:
        sql = f'SELECT {select} FROM "{self.name}"' + (f" WHERE {where}" if where else "")
        sql += (f" ORDER BY {order_by}" if order_by else "") + (f" LIMIT {int(limit)}" if limit is not None else "")
        return iter(self.db.rows(sql, params))

    @property
    def rows(self) -> Iterator[dict]:
        return self.rows_where()

    @property
    def columns_dict(self) -> dict[str, None]:
        return dict.fromkeys(self.db.columns(self.name))

    def count_where(self, where: str, params: Sequence = ()) -> int:
        return self.db.value(f'SELECT count(*) FROM "{self.name}" WHERE {where}', params)

    @property
    def count(self) -> int:
        return self.db.value(f'SELECT count(*) FROM "{self.name}"')


class Database:
    """The API the stores use; SQLiteDatabase and PostgresDatabase fill in the hooks."""

    dialect: str
    integrity_errors: tuple[type[Exception], ...]  # a unique key was violated
    types: ClassVar[dict[str, str]] = {"id": "", "blob": ""}  # the column types the two spell differently

    def __init__(self) -> None:
        self._local = threading.local()

    def __getitem__(self, table: str) -> Table:
        return Table(self, table)

    @contextlib.contextmanager
    def transaction(self, *locks: str) -> Iterator[None]:
        """All or nothing; `locks` name what must not change under it (see the module's docstring)."""
        if getattr(self._local, "depth", 0):  # join the transaction the thread is in
            self._lock(sorted(set(locks)))
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        with self._begin():
            self._local.depth = 1
            try:
                self._lock(sorted(set(locks)))
                yield
            finally:
                self._local.depth = 0

    def execute(self, sql: str, params: Sequence = ()) -> Result:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        raise NotImplementedError

    def rows(self, sql: str, params: Sequence = ()) -> list[dict]:
        return self.execute(sql, params).dicts()

    def row(self, sql: str, params: Sequence = ()) -> dict | None:
        return next(iter(self.rows(sql, params)), None)

    def value(self, sql: str, params: Sequence = ()) -> Any:
        """The first column of the first row, or None if there is none."""
        row = self.execute(sql, params).fetchone()
        return row[0] if row else None

    def insert_rows(self, table: str, columns: Sequence[str], rows: list[Sequence]) -> None:
        """Many rows into `table` at once, the fastest way the database has: devices' updates
        arrive by the thousand per second."""
        if rows:
            names, marks = ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns))
            self.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows)

    def existing(self, table: str, columns: Sequence[str], keys: Iterable[Sequence]) -> set[tuple]:
        """Which of `keys` (values of `columns`, which `table` holds unique) are in `table`."""
        by_prefix: dict[tuple, list] = {}
        for key in keys:
            by_prefix.setdefault(tuple(key[:-1]), []).append(key[-1])
        *fixed, last = columns
        found: set[tuple] = set()
        for prefix, values in by_prefix.items():  # one statement per prefix (a site), however many values
            where = "".join(f'"{c}" = ? AND ' for c in fixed) + f'"{last}" IN ({", ".join("?" * len(values))})'
            found.update(self.execute(f'SELECT {", ".join(columns)} FROM "{table}" WHERE {where}',
                                      [*prefix, *values]).rows)
        return found

    def next_ids(self, table: str, n: int) -> list[int]:
        """`n` fresh ids for rows of `table` (whose `id` is generated), inside a transaction."""
        raise NotImplementedError

    def restart_ids(self, table: str) -> None:
        """Generate `table`'s next ids after the largest it holds (after rows came with theirs)."""

    def table_names(self) -> list[str]:
        """Every table, oldest first."""
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def _begin(self) -> contextlib.AbstractContextManager:
        raise NotImplementedError

    def _lock(self, names: list[str]) -> None:
        pass


class SQLiteDatabase(Database):
    """One SQLite file in WAL mode; one connection, used by one thread at a time."""

    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)
    types: ClassVar[dict[str, str]] = {"id": "INTEGER PRIMARY KEY", "blob": "BLOB"}

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self._lock_file: IO | None = None  # opened on the first transaction
        memory = str(path) == ":memory:"
        if not memory:
            path.parent.mkdir(parents=True, exist_ok=True)
            create_private(path)  # SQLite gives the -wal and -shm files the database file's mode
        # Autocommit: every transaction is an explicit BEGIN IMMEDIATE … COMMIT (transaction()).
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if not memory:
            self.conn.execute("PRAGMA journal_mode = wal")
        # FULL: an acknowledged update is on disk even if the machine, not just the process, dies.
        self.conn.execute("PRAGMA synchronous = FULL")

    def execute(self, sql: str, params: Sequence = ()) -> Result:
        cursor = self.conn.execute(sql, params)
        columns = [c[0] for c in cursor.description or ()]
        return Result(cursor.fetchall(), columns, cursor.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        self.conn.executemany(sql, rows)

    def next_ids(self, table: str, n: int) -> list[int]:
        first = self.value(f'SELECT coalesce(max(id), 0) + 1 FROM "{table}"')  # under the write lock
        return list(range(first, first + n))

    def table_names(self) -> list[str]:
        return [r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                           " AND name NOT LIKE 'sqlite_%' ORDER BY rowid").rows]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.execute("SELECT name FROM pragma_table_info(?)", [table]).rows]

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def _begin(self) -> Iterator[None]:
        with self._write_lock():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        # Writers in other processes wait here, woken the moment the lock is free, rather than
        # in SQLite's busy handler, which sleeps (up to 100 ms at a time) and tries again.
        if str(self.path) == ":memory:":
            yield
            return
        if self._lock_file is None:
            lock_path = self.path.with_name(self.path.name + ".lock")
            create_private(lock_path)
            self._lock_file = lock_path.open("a")  # held for the connection's life, as the lock is
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)


class PostgresDatabase(Database):
    """A pool of connections to one PostgreSQL database, shared by the threads of a process."""

    dialect = "postgresql"
    types: ClassVar[dict[str, str]] = {"id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "blob": "BYTEA"}

    def __init__(self, url: str, max_connections: int = 4) -> None:
        import psycopg
        import psycopg_pool

        super().__init__()
        self.url = url
        self._types: dict[str, dict[str, str]] = {}  # the column types of each table, by name
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        try:
            self.pool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=max_connections, open=True,
                                                    kwargs={"autocommit": True}, timeout=30)
            self.pool.wait(timeout=30)
        except psycopg_pool.PoolTimeout:
            raise ConnectionError(f"could not connect to {without_password(url)}") from None

    def execute(self, sql: str, params: Sequence = ()) -> Result:
        with self._connection() as conn:
            cursor = conn.execute(_placeholders(sql), params)
            columns = [c.name for c in cursor.description or ()]
            return Result(cursor.fetchall() if cursor.description else [], columns, cursor.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence]) -> None:
        rows = list(rows)
        if len(rows) == 1:  # e.g. the one site of a batch of updates: psycopg's executemany costs twice as much
            self.execute(sql, rows[0])
        elif rows:
            with self._connection() as conn:
                conn.cursor().executemany(_placeholders(sql), rows)

    def insert_rows(self, table: str, columns: Sequence[str], rows: list[Sequence]) -> None:
        # COPY in its binary form: no statement per row, nothing parsed as text on either side.
        if not rows:
            return
        types = self._column_types(table)
        names = ", ".join(f'"{c}"' for c in columns)
        with self._connection() as conn, conn.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([types[c] for c in columns])
            for row in rows:
                copy.write_row(row)

    def existing(self, table: str, columns: Sequence[str], keys: Iterable[Sequence]) -> set[tuple]:
        # One probe of the unique index per key, whatever the planner thinks of the table's size
        # (an IN list is planned from statistics, which a table filling fast has not got yet, and
        # may then be checked against every row of the site). The keys go as one JSON text, which
        # costs the client a fraction of what dumping them as arrays element by element does.
        keys = list(keys)
        if not keys:
            return set()
        types = self._column_types(table)
        names = ", ".join(f'k."{c}"' for c in columns)
        match = " AND ".join(f't."{c}" = k."{c}"' for c in columns)
        record = ", ".join(f'"{c}" {types[c]}' for c in columns)
        rows = [dict(zip(columns, key)) for key in keys]
        return set(self.execute(f"SELECT {names} FROM json_to_recordset(?::json) AS k({record}) CROSS JOIN LATERAL"
                                f' (SELECT 1 FROM "{table}" t WHERE {match} LIMIT 1) AS found',
                                [orjson.dumps(rows).decode()]).rows)

    def _column_types(self, table: str) -> dict[str, str]:
        if table not in self._types:  # read once: a table's columns do not change while the server runs
            self._types[table] = {r[0]: r[1] for r in self.execute(
                "SELECT column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema()"
                " AND table_name = ?", [table]).rows}
        return self._types[table]

    def next_ids(self, table: str, n: int) -> list[int]:
        return [r[0] for r in self.execute(
            "SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)", [table, n]).rows]

    def restart_ids(self, table: str) -> None:
        self.execute(f"SELECT setval(pg_get_serial_sequence(?, 'id'), max(id)) FROM \"{table}\""
                     " HAVING max(id) IS NOT NULL", [table])

    def table_names(self) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
            " ORDER BY c.oid").rows]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = ? ORDER BY ordinal_position", [table]).rows]

    def close(self) -> None:
        self.pool.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        """The thread's transaction's connection, or one from the pool for a single statement."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self.pool.connection() as conn:
            yield conn

    @contextlib.contextmanager
    def _begin(self) -> Iterator[None]:
        with self.pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def _lock(self, names: list[str]) -> None:
        # Sorted, so two transactions that want the same names never wait for each other in a cycle.
        for name in names:
            self.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [name])


@functools.cache
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def without_password(url: str) -> str:
    """`url` with any password in it masked.

    >>> without_password("postgresql://app:s3cret@db/p13n")
    'postgresql://app:***@db/p13n'
    """
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def create_private(path: Path) -> None:
    """Make `path` readable and writable by its owner only, if it does not exist yet: it holds
    visitors' consents and secrets' hashes, and admins' password hashes."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
