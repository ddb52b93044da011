"""The outbox's SQLite file: its schema, connection settings and the swap of a corrupt file for a fresh one.

``connect_checked`` opens a file in WAL mode with ``synchronous=FULL`` and a small WAL, runs ``PRAGMA
quick_check`` and creates the schema; a damaged file raises ``CorruptError``, and ``replace_corrupt``
moves it aside (``outbox_files.quarantine``), starts a fresh file and copies into it what could still be
read: unacknowledged records with their sequence numbers, the open events, the drop counter.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from mlway.core.errors import ConfigError, MlwayError
from mlway.core.wire import EventRecord, Record, SummaryRecord
from mlway.edge import outbox_files

WAL_CHECKPOINT_PAGES = 64
WAL_LIMIT_BYTES = 512 * 1024
RECORD: TypeAdapter[EventRecord | SummaryRecord] = TypeAdapter(Record)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('event', 'summary')),
    wall REAL NOT NULL, mono REAL NOT NULL, boot_id TEXT NOT NULL,
    size INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_type ON records (type, seq);
CREATE TABLE IF NOT EXISTS faults (id INTEGER PRIMARY KEY AUTOINCREMENT, wall REAL NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS open_events (event_id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
"""
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_FULL_CODE = 13  # SQLITE_FULL
_IOERR_CODE = 10  # SQLITE_IOERR


class CorruptError(Exception):
    """The file failed quick_check or SQLite found it malformed."""


def is_disk_full(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed to write: the disk is full (SQLITE_FULL, ENOSPC) or a write failed (SQLITE_IOERR:
    a file size limit, EFBIG, a failing card). Both are handled alike: roll back, report, keep running."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in {_FULL_CODE, _IOERR_CODE}:
        return True
    return "full" in str(exc).lower() or "disk i/o error" in str(exc).lower()


def _connect(path: Path, max_bytes: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    try:
        _configure(conn, path, max_bytes)
    except BaseException:
        conn.close()
        raise
    return conn


def _configure(conn: sqlite3.Connection, path: Path, max_bytes: int) -> None:
    if int(conn.execute("PRAGMA page_count").fetchone()[0]) == 0:  # a new file (on a full disk, write nothing)
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise MlwayError(f"the outbox {path} cannot use WAL mode (got {mode})", hint="put it on a local disk")
    conn.execute("PRAGMA synchronous = FULL")
    # A small WAL: each commit appends a few pages, and on a nearly full disk a large WAL would take the
    # space the records need (checkpoints then reuse the WAL from its start instead of growing it).
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    conn.execute(f"PRAGMA journal_size_limit = {max(64 * 1024, min(WAL_LIMIT_BYTES, max_bytes // 4))}")


def connect_checked(path: Path, max_bytes: int) -> sqlite3.Connection:
    """Connect, run quick_check and create the schema; raise CorruptError for a damaged file."""
    try:
        conn = _connect(path, max_bytes)
    except sqlite3.DatabaseError as exc:
        _raise_if_corrupt(exc, path)
        raise
    try:
        _check_and_create(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        _raise_if_corrupt(exc, path)
        raise
    except BaseException:
        conn.close()
        raise
    return conn


def _check_and_create(conn: sqlite3.Connection, path: Path) -> None:
    result = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    if result != ["ok"]:
        raise CorruptError("; ".join(result[:3]))
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "records" not in tables:
        raise ConfigError(
            f"{path} is an SQLite file but not an mlway outbox (tables: {sorted(tables)})",
            hint="point the edge outbox path at a new file",
        )
    conn.executescript(SCHEMA)


def _raise_if_corrupt(exc: sqlite3.DatabaseError, path: Path) -> None:
    code = getattr(exc, "sqlite_errorcode", None)
    if (code is not None and code & 0xFF in _CORRUPT_CODES) or "malformed" in str(exc) or "not a database" in str(exc):
        raise CorruptError(str(exc)) from exc
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        raise MlwayError(f"the outbox {path} is locked by another process", hint="run one agent per outbox") from exc
    raise ConfigError(f"cannot open the outbox {path}: {exc}", hint="check the path and its permissions") from exc


def replace_corrupt(path: Path, max_bytes: int, why: str) -> tuple[sqlite3.Connection, str]:
    moved = outbox_files.quarantine(path)
    found = outbox_files.salvage(moved)
    floor = max(found.last_seq, outbox_files.read_seq_mark(path))
    conn = connect_checked(path, max_bytes)
    kept = 0
    conn.execute("BEGIN IMMEDIATE")
    for row in found.rows:
        try:
            record = RECORD.validate_json(row[6])
        except ValidationError:
            continue
        if record.seq != row[0] or record.type != row[1]:
            continue
        conn.execute(
            "INSERT OR IGNORE INTO records (seq, type, wall, mono, boot_id, size, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        kept += 1
    conn.executemany("INSERT OR IGNORE INTO open_events (event_id, body) VALUES (?, ?)", found.open_events)
    for key, value in (("last_seq", floor), ("dropped_summaries", found.dropped_summaries)):
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, str(value)))
    conn.execute("COMMIT")
    fault = (
        f"outbox file was corrupt ({why}); moved to {moved.name}; started a fresh one with {kept} unacknowledged "
        f"records salvaged; sequence continues after {floor}"
    )
    return conn, fault
