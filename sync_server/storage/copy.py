"""`python -m sync_server migrate-db`: a site's whole state from one database into another,
e.g. from the SQLite file of one machine into the PostgreSQL database of several replicas.

Both are brought to the latest schema first; the copy is one transaction in the target,
which must hold nothing yet, so it is all there or none of it is.
"""

from __future__ import annotations

from pathlib import Path

from sync_server.storage import Store

CHUNK = 2000  # rows read and written at a time: a round's updates need not fit in memory at once


def copy_database(source: str | Path, target: str | Path) -> dict[str, int]:
    """Copy every table of `source` into the empty database `target`; rows copied by table."""
    if str(source) == str(target):
        raise ValueError("--from and --to name the same database")
    if not isinstance(source, str) and not Path(source).exists():
        raise ValueError(f"{source} does not exist")
    src, dst = Store(source).db, Store(target).db
    tables = [t for t in src.table_names() if t != "schema_migrations"]
    occupied = [t for t in tables if t in dst.table_names() and dst[t].count]
    if occupied:
        raise ValueError(f"{target} is not empty (it has rows in {', '.join(occupied)})")
    counts = {}
    with dst.transaction("schema"):
        for table in tables:
            columns = [c for c in src.columns(table) if c in dst.columns(table)]
            names = ", ".join(f'"{c}"' for c in columns)
            insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
            counts[table] = 0
            while rows := src.execute(f'SELECT {names} FROM "{table}" LIMIT ? OFFSET ?', [CHUNK, counts[table]]).rows:
                dst.executemany(insert, rows)
                counts[table] += len(rows)
            if "id" in columns:
                dst.restart_ids(table)
    return counts
