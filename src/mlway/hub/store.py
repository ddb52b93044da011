"""The hub's SQLite store: devices and their token hashes, records stored once, events' latest state.

    store = HubStore.open(Path("hub.db"))       # creates or migrates the schema; clear error if unusable
    token = store.add_device("combine-07")      # the token is returned once; only its SHA-256 is kept
    device = store.authenticate(token)          # "combine-07", or UnauthorizedError with a hint
    ack = store.ingest(batch)                   # one transaction, committed (fsynced) before it returns

Durability: WAL journal with ``synchronous=FULL``, so a committed batch survives a SIGKILL or a power cut,
and a batch is one transaction, so a kill mid-batch leaves none of it. Idempotency: a record is keyed by
``(device_id, seq)``; a repeat is acknowledged and counted as a duplicate, never stored twice.

One connection serves every thread, behind a lock: SQLite has one writer at a time anyway, and the
hub's reads are small. Other processes (``mlway hub device add`` beside a running hub) wait up to
``BUSY_TIMEOUT_MS`` for the lock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from mlway.core.errors import InputError, NotFoundError
from mlway.core.wire import (
    DeviceId,
    DeviceStatus,
    EventRecord,
    Fleet,
    Heartbeat,
    HubEvent,
    IngestAck,
    IngestBatch,
)
from mlway.hub.errors import UnauthorizedError
from mlway.hub.schema import MIGRATIONS, SCHEMA_VERSION, TABLE_NAMES, TABLES
from mlway.hub.tokens import new_token, token_hash

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
_IN_CHUNK = 500
"""Parameters per ``IN (...)`` list, under every SQLite build's limit."""
MAX_EVENTS_LIMIT = 10_000

_DEVICE_ID = TypeAdapter(DeviceId)

_INSERT_RECORD = (
    "INSERT INTO records (device_id, seq, type, wall, mono, boot_id, trusted, received_wall, payload)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_NEWER = "excluded.last_seq > events.last_seq"
_LATEST = ("label", "source", "state", "start_wall", "end_wall", "start_s", "end_s", "confidence", "peak", "unsure",
           "urgent", "interrupted")  # fmt: skip
_UPSERT_EVENT = (  # column names are the constants above
    "INSERT INTO events (device_id, event_id, label, source, state, start_wall, end_wall, start_s, end_s,"  # noqa: S608
    " confidence, peak, unsure, urgent, interrupted, model_version, updates, clock_trusted, last_seq)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
    " ON CONFLICT (device_id, event_id) DO UPDATE SET updates = events.updates + 1, "
    + ", ".join(
        f"{column} = CASE WHEN {_NEWER} THEN excluded.{column} ELSE events.{column} END"
        for column in (*_LATEST, "model_version", "clock_trusted", "last_seq")
    )
)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A device as ``mlway hub device list`` shows it."""

    device_id: str
    created_wall: float
    revoked_wall: float | None
    last_seen_wall: float | None
    records: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class Ingested:
    """What an ingest did: the acknowledgement to send, and how many repeats differed from the stored copy."""

    ack: IngestAck
    conflicts: int
    stored_by_type: dict[str, int]


def check_device_id(name: str) -> str:
    """``name`` if it is a valid device id, else an InputError that states the rule."""
    try:
        return _DEVICE_ID.validate_python(name)
    except ValidationError as exc:
        raise InputError(
            f"invalid device name {name!r}",
            hint="use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. combine-07",
        ) from exc


def _connect(path: Path) -> sqlite3.Connection:
    if path.is_dir():
        raise InputError(f"--data {path} is a directory", hint="give a database file path, e.g. --data hub.db")
    if not path.parent.is_dir():
        raise InputError(
            f"cannot create the hub database {path}: the directory {path.parent} does not exist",
            hint=f"create it first (mkdir -p {path.parent}) or choose another --data path",
        )
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise InputError(
            f"cannot open the hub database {path}: {exc}",
            hint="check that the path is writable by this user and is an mlway hub database (or a new file name)",
        ) from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise InputError(
            f"cannot put the hub database {path} in WAL mode (got {mode!r})",
            hint="put --data on a local filesystem that supports shared memory (not a network mount)",
        )
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in names:
        if names:
            raise InputError(
                f"{path} is a SQLite database but not an mlway hub database (tables: {', '.join(sorted(names))})",
                hint="choose another --data path; the hub creates its database on first start",
            )
        _apply(conn, TABLES, 1)
        version = 1
    else:
        version = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{path} has hub schema version {version}; this mlway knows up to {SCHEMA_VERSION}",
                hint="upgrade mlway (pip install -U 'mlway[hub]') to open this database",
            )
        missing = [name for name in TABLE_NAMES if name not in names]
        if missing:
            raise InputError(
                f"{path} lacks the hub tables {missing}", hint="the file is damaged; restore it from a backup"
            )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        _apply(conn, MIGRATIONS[target], target)
        if names:
            log.info("hub database %s migrated to schema version %d", path, target)


def _apply(conn: sqlite3.Connection, statements: tuple[str, ...], version: int) -> None:
    """Run ``statements`` and record ``version``, all or nothing (once: another hub starting on the same file
    may have applied it since this one read the version)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if version > 1 and conn.execute("SELECT 1 FROM schema_version WHERE version = ?", (version,)).fetchone():
            conn.execute("ROLLBACK")
            return
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version (version, applied_wall) VALUES (?, ?)", (version, time.time()))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class HubStore:
    """The hub database. Thread-safe; use ``HubStore.open`` and ``close`` (or ``with``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> HubStore:
        path = Path(path)
        conn = _connect(path)
        try:
            _migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise InputError(
                f"cannot use {path} as the hub database: {exc}",
                hint="check that the file is writable and is an mlway hub database, or choose a new --data path",
            ) from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> HubStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; committed (and fsynced) when the block ends without error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def schema_version(self) -> int:
        return int(str(self._read("SELECT MAX(version) FROM schema_version")[0][0]))

    # devices

    def add_device(self, name: str, *, now: float | None = None) -> str:
        """Register ``name`` (or re-issue the token of a revoked one) and return its token, shown once."""
        device_id = check_device_id(name)
        token = new_token()
        now = time.time() if now is None else now
        with self._transaction() as conn:
            row = conn.execute("SELECT revoked_wall FROM devices WHERE device_id = ?", (device_id,)).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO devices (device_id, token_sha256, created_wall) VALUES (?, ?, ?)",
                    (device_id, token_hash(token), now),
                )
            elif row[0] is None:
                raise InputError(
                    f"device {device_id!r} already exists and has a valid token",
                    hint=f"to issue a new token, revoke the old one first: mlway hub device revoke {device_id}",
                )
            else:
                conn.execute(
                    "UPDATE devices SET token_sha256 = ?, revoked_wall = NULL WHERE device_id = ?",
                    (token_hash(token), device_id),
                )
        return token

    def revoke_device(self, name: str, *, now: float | None = None) -> None:
        """Refuse the device's token from now on; its records stay."""
        now = time.time() if now is None else now
        with self._transaction() as conn:
            row = conn.execute("SELECT revoked_wall FROM devices WHERE device_id = ?", (name,)).fetchone()
            if row is None:
                raise NotFoundError(f"no device named {name!r}", hint=self._known_hint(conn))
            if row[0] is None:
                conn.execute("UPDATE devices SET revoked_wall = ? WHERE device_id = ?", (now, name))

    def _known_hint(self, conn: sqlite3.Connection) -> str:
        names = [row[0] for row in conn.execute("SELECT device_id FROM devices ORDER BY device_id LIMIT 20")]
        return f"known devices: {', '.join(names)}" if names else "no device yet: mlway hub device add NAME"

    def devices(self) -> list[DeviceInfo]:
        rows = self._read(
            "SELECT device_id, created_wall, revoked_wall, last_seen_wall, records, last_seq"
            " FROM devices ORDER BY device_id"
        )
        return [DeviceInfo(*row) for row in rows]  # type: ignore[arg-type]

    def authenticate(self, token: str) -> str:
        """The device id of a valid token; UnauthorizedError (with the fix) otherwise."""
        rows = self._read("SELECT device_id, revoked_wall FROM devices WHERE token_sha256 = ?", (token_hash(token),))
        if not rows:
            raise UnauthorizedError(
                "unknown device token",
                hint="create a device and its token on the hub (mlway hub device add NAME --data hub.db) "
                "and put the token in the device's config",
            )
        device_id, revoked = rows[0]
        if revoked is not None:
            raise UnauthorizedError(
                f"the token of device {device_id!r} was revoked",
                hint=f"issue a new one on the hub: mlway hub device add {device_id} --data hub.db",
            )
        return str(device_id)

    # ingest

    def ingest(self, batch: IngestBatch, *, now: float | None = None) -> Ingested:
        """Store the batch's new records in one committed transaction; acknowledge all of them.

        A repeated seq whose content differs from the stored one is still acknowledged (the first copy
        stays) but counted in ``conflicts`` and logged: it means the device restarted its sequence.
        """
        now = time.time() if now is None else now
        device = batch.device_id
        first: dict[int, str] = {}
        fresh = []
        for record in batch.records:
            if record.seq not in first:
                first[record.seq] = record.model_dump_json()
                fresh.append(record)
        with self._transaction() as conn:
            stored_before = self._stored_payloads(conn, device, list(first))
            new = [r for r in fresh if r.seq not in stored_before]
            conflicts = [seq for seq, payload in stored_before.items() if payload != first[seq]]
            conn.executemany(
                _INSERT_RECORD,
                [
                    (
                        device,
                        r.seq,
                        r.type,
                        r.clock.wall,
                        r.clock.mono,
                        r.clock.boot_id,
                        r.clock.trusted,
                        now,
                        first[r.seq],
                    )
                    for r in new
                ],
            )
            events = sorted((r for r in new if isinstance(r, EventRecord)), key=lambda r: r.seq)
            conn.executemany(_UPSERT_EVENT, [_event_row(device, r) for r in events])
            top = max((r.seq for r in new), default=0)
            conn.execute(
                "UPDATE devices SET records = records + ?, last_seen_wall = ?,"
                " last_seq = CASE WHEN ? > last_seq THEN ? ELSE last_seq END WHERE device_id = ?",
                (len(new), now, top, top, device),
            )
        if conflicts:
            log.warning(
                "device %s re-sent seq %s with different content (kept the first); its outbox may have restarted"
                " its sequence",
                device,
                conflicts[:10],
            )
        ack = IngestAck(acked=sorted(first), stored=len(new), duplicates=len(batch.records) - len(new))
        by_type: dict[str, int] = {}
        for record in new:
            by_type[record.type] = by_type.get(record.type, 0) + 1
        return Ingested(ack=ack, conflicts=len(conflicts), stored_by_type=by_type)

    @staticmethod
    def _stored_payloads(conn: sqlite3.Connection, device: str, seqs: list[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        for start in range(0, len(seqs), _IN_CHUNK):
            chunk = seqs[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT seq, payload FROM records WHERE device_id = ? AND seq IN ({marks})"  # noqa: S608 - marks only
            found.update(conn.execute(sql, (device, *chunk)).fetchall())
        return found

    def heartbeat(self, heartbeat: Heartbeat, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO heartbeats (device_id, received_wall, payload) VALUES (?, ?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET received_wall = excluded.received_wall,"
                " payload = excluded.payload",
                (heartbeat.device_id, now, heartbeat.model_dump_json()),
            )
            conn.execute("UPDATE devices SET last_seen_wall = ? WHERE device_id = ?", (now, heartbeat.device_id))

    # queries

    def events(
        self,
        *,
        device: str | None = None,
        label: str | None = None,
        since: float | None = None,
        state: Literal["open", "ended"] | None = None,
        limit: int = 100,
    ) -> list[HubEvent]:
        """Events (latest state of each), newest start first; ``since`` keeps those that started at or after it."""
        if not 1 <= limit <= MAX_EVENTS_LIMIT:
            raise InputError(f"limit {limit} out of range", hint=f"use 1..{MAX_EVENTS_LIMIT}")
        where: list[str] = []
        params: list[object] = []
        for column, value in (("device_id", device), ("label", label), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("start_wall >= ?")
            params.append(since)
        sql = (  # only constant column names; values are parameters
            "SELECT device_id, event_id, label, source, state, start_wall, end_wall, start_s, end_s, confidence, peak,"  # noqa: S608
            " unsure,"
            " urgent, model_version, updates, clock_trusted, interrupted FROM events"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY start_wall DESC, device_id, event_id LIMIT ?"
        )
        rows = self._read(sql, [*params, limit])
        names = HubEvent.model_fields
        return [HubEvent.model_validate(dict(zip(names, row, strict=True))) for row in rows]

    def fleet(self) -> Fleet:
        """Every device with a valid token: last seen, latest heartbeat, records stored, highest seq."""
        rows = self._read(
            "SELECT d.device_id, d.last_seen_wall, h.payload, d.records, d.last_seq FROM devices d"
            " LEFT JOIN heartbeats h ON h.device_id = d.device_id WHERE d.revoked_wall IS NULL ORDER BY d.device_id"
        )
        return Fleet(
            devices=[
                DeviceStatus(
                    device_id=str(device_id),
                    last_seen_wall=last_seen,  # type: ignore[arg-type]
                    last_heartbeat=Heartbeat.model_validate_json(str(payload)) if payload is not None else None,
                    records=records,  # type: ignore[arg-type]
                    last_seq=last_seq,  # type: ignore[arg-type]
                )
                for device_id, last_seen, payload, records, last_seq in rows
            ]
        )

    def last_seen(self) -> dict[str, float]:
        rows = self._read("SELECT device_id, last_seen_wall FROM devices WHERE last_seen_wall IS NOT NULL")
        return {str(device): float(str(seen)) for device, seen in rows}


def _event_row(device: str, r: EventRecord) -> tuple[object, ...]:
    state = "ended" if r.kind == "end" else "open"
    return (
        device,
        r.event_id,
        r.label,
        r.source,
        state,
        r.start_wall,
        r.end_wall,
        r.start_s,
        r.end_s,
        r.confidence,
        r.peak,
        r.unsure,
        r.urgent,
        r.interrupted,
        r.model_version,
        r.clock.trusted,
        r.seq,
    )
