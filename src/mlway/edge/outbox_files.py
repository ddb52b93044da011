"""The outbox's files beside the database: the sequence mark, quarantine of a corrupt file, salvage.

The sequence mark (``<name>.seq``) holds a number at least as large as every sequence number the
outbox ever handed out. It is written (atomically, fsynced) once per block of sequence numbers, before
the first number of the block is used, so a database that is lost or corrupt can be replaced by a fresh
one that continues above every number the hub may already hold: the hub keys records by
``(device_id, seq)``, and a reused number would be acknowledged as a duplicate and lost.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
"""SQLite's companion files of a database, moved together with it."""


def seq_mark_path(db: Path) -> Path:
    return db.with_name(db.name + ".seq")


def read_seq_mark(db: Path) -> int:
    """The sequence mark beside ``db`` (0 if missing or unreadable)."""
    try:
        return max(0, int(seq_mark_path(db).read_text().strip() or "0"))
    except (OSError, ValueError):
        return 0


def write_seq_mark(db: Path, value: int) -> None:
    """Replace the sequence mark atomically and durably (temp file, fsync, rename, fsync of the folder)."""
    mark = seq_mark_path(db)
    tmp = mark.with_name(mark.name + ".tmp")
    with tmp.open("w") as f:
        f.write(f"{value}\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(mark)
    fsync_dir(mark.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def quarantine(db: Path) -> Path:
    """Move ``db`` and its -wal/-shm files aside as ``<name>.corrupt-<UTC>``; return the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    target = db.with_name(f"{db.name}.corrupt-{stamp}")
    if db.exists():
        db.replace(target)
    for suffix in SIDE_SUFFIXES:
        side = db.with_name(db.name + suffix)
        if side.exists():
            side.replace(target.with_name(target.name + suffix))
    fsync_dir(db.parent)
    return target


@dataclass
class Salvage:
    """What could still be read from a corrupt outbox."""

    rows: list[tuple[int, str, float, float, str, int, str]] = field(default_factory=list)
    """(seq, type, wall, mono, boot_id, size, body) of unacknowledged records, oldest first."""
    open_events: list[tuple[str, str]] = field(default_factory=list)
    """(event_id, body) of events left open, so a fresh file can still end them."""
    last_seq: int = 0
    dropped_summaries: int = 0
    error: str = ""


def salvage(db: Path) -> Salvage:
    """Read what can be read from a (quarantined) corrupt outbox: records until the first bad page."""
    out = Salvage()
    try:
        conn = sqlite3.connect(db, isolation_level=None)
    except sqlite3.Error as exc:
        out.error = str(exc)
        return out
    try:
        with contextlib.suppress(sqlite3.Error):
            for key, value in conn.execute("SELECT key, value FROM meta"):
                if key == "last_seq":
                    out.last_seq = int(value)
                elif key == "dropped_summaries":
                    out.dropped_summaries = int(value)
        try:
            cursor = conn.execute("SELECT seq, type, wall, mono, boot_id, size, body FROM records ORDER BY seq")
            for row in cursor:
                out.rows.append(
                    (int(row[0]), str(row[1]), float(row[2]), float(row[3]), str(row[4]), int(row[5]), str(row[6]))
                )
        except sqlite3.Error as exc:
            out.error = str(exc)
        with contextlib.suppress(sqlite3.Error):  # files written before open events were kept lack the table
            out.open_events = [(str(i), str(b)) for i, b in conn.execute("SELECT event_id, body FROM open_events")]
    finally:
        conn.close()
    if out.rows:
        out.last_seq = max(out.last_seq, out.rows[-1][0])
    return out


def reserve_path(db: Path) -> Path:
    return db.with_name(db.name + ".reserve")


def ensure_reserve(db: Path, size: int, *, at_least: int | None = None) -> int:
    """Keep ``size`` bytes of disk allocated beside ``db`` (a ballast freed when the disk fills up, so
    SQLite can still checkpoint its WAL and delete records); with ``at_least``, take less (halving) if
    the disk has not that much. Returns the bytes now reserved."""
    path = reserve_path(db)
    with contextlib.suppress(OSError):
        if path.stat().st_size >= size:
            return size
    floor = size if at_least is None else at_least
    error: OSError | None = None
    while size >= floor:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.posix_fallocate(fd, 0, size)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            error = exc
            size //= 2
            continue
        return size
    log.warning("outbox: could not reserve disk beside %s: %s", db, error)
    with contextlib.suppress(OSError):
        path.unlink()
    return 0


def release_reserve(db: Path) -> int:
    """Free the ballast; returns the bytes freed (0 if there was none)."""
    path = reserve_path(db)
    try:
        size = path.stat().st_size
        path.unlink()
    except OSError:
        return 0
    return size
