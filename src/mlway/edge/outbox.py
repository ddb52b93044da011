"""The edge device's crash-safe outbox: events and summaries waiting for the hub's acknowledgement.

    outbox = Outbox.open(Path("/var/lib/mlway/outbox.db"), "combine-07", max_bytes=64 * 2**20)
    record = outbox.add_event(event_id="e1", kind="start", label="unloading", source="auger", ...)
    outbox.pending(500)          # oldest first
    outbox.ack([record.seq])     # only after the hub committed it

Storage: one SQLite file in WAL mode with ``synchronous=FULL``: ``add_event`` returns only once the
record is committed and fsynced, so a power cut after it returns loses nothing. Every record gets the
next device sequence number (strictly increasing over the device's life: it lives in the database, and
a mark beside it, see ``outbox_files``), the wall and monotonic clocks, the boot id and whether the wall
clock looked set (``mlway.core.clock``). Records leave the file only through ``ack``.

At open, ``PRAGMA quick_check`` runs. A corrupt file (and its -wal/-shm) is moved aside as
``<name>.corrupt-<UTC>``, the records still readable in it are copied into a fresh file with their
sequence numbers, and the fault is logged and listed in ``stats().faults`` (kept in the new file, so
the next heartbeats carry it). The agent never exits over it and never falls back to memory.

Disk policy (``max_bytes`` is the soft limit, ``hard_max_bytes`` the hard one, default twice the soft):
the stored bytes are the JSON of the records plus a fixed overhead per row (``ROW_OVERHEAD``); the files
on disk hold those plus SQLite's page slack and the WAL (bounded by ``journal_size_limit``).

1. A new record that would take the store over ``max_bytes`` first deletes the oldest *summaries*, as
   many as needed; each is counted in ``dropped_summaries`` (persisted, sent in heartbeats).
2. A summary that still does not fit is itself dropped (``add_summary`` returns None, counted).
3. Events are never dropped. With only events left, events are still accepted beyond ``max_bytes``
   (``stats().over_limit`` is True, a warning is logged once) up to ``hard_max_bytes``. There, and when
   the disk itself is full (``database or disk is full``, ENOSPC) even after deleting every summary,
   ``add_event`` raises ``OutboxFullError``: the event is refused *loudly* (counted in
   ``refused_events``, a fault, the caller's local alert still fires), never silently lost after it was
   confirmed. Acknowledged records are deleted at once, so there is nothing else to sacrifice.
4. A real full disk (SQLite's "database or disk is full", or a failed write) is never fatal: the write
   is rolled back, the fault recorded, a ballast file ``<name>.reserve`` (max_bytes/16, 64 KiB-1 MiB,
   allocated at open) is freed so SQLite can checkpoint its WAL and delete the oldest summaries (a few
   at a time), then taken back; the event is retried in the pages those deletions freed inside the file
   (up to ``DISK_FULL_RETRIES`` times). A summary on a full disk is dropped itself. When the reserve
   cannot be taken back whole, events are refused until it can: the reserve is what lets the
   acknowledgements (the only way out) delete records. An acknowledgement that still cannot be written
   leaves its records to be sent again (the hub acknowledges duplicates).

Open events: the latest record of every event started and not yet ended is kept beside the records
(``open_events``, written in the same transaction as the record, acknowledgements do not touch it). An
agent killed mid-event calls ``end_open_events`` when it starts again: each such event gets an ``end``
record at its last recorded frame with ``interrupted=True``, so the hub never holds an event open forever.

Thread-safe: one connection behind one lock (the agent's event thread, its summary timer and the
uploader share the outbox).
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import TypeAdapter, ValidationError

from mlway.core.clock import Stamp
from mlway.core.errors import ConfigError, InputError, MlwayError
from mlway.core.wire import CameraSummary, Clock, DeviceId, EventRecord, SummaryRecord
from mlway.edge import outbox_files
from mlway.edge.outbox_db import (
    RECORD,
    WAL_CHECKPOINT_PAGES,
    CorruptError,
    connect_checked,
    is_disk_full,
    replace_corrupt,
)

log = logging.getLogger(__name__)

ROW_OVERHEAD = 64
"""Bytes counted per stored record besides its JSON (row header, index entry)."""
SEQ_BLOCK = 1000
"""Sequence numbers reserved per write of the sequence mark."""
MAX_FAULTS = 20
RESERVE_MIN_BYTES = 64 * 1024
DISK_FULL_RETRIES = 3
SUMMARY_CHUNK = 32
ACK_CHUNK = 200
VACUUM_PAGES = 64
RESERVE_MAX_BYTES = 2**20
MIN_MAX_BYTES = 16 * 1024

_DEVICE_ID: TypeAdapter[str] = TypeAdapter(DeviceId)


class OutboxFullError(MlwayError):
    """The outbox could not store an event (hard limit or disk full); the event was not confirmed."""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    backlog_records: int
    backlog_oldest_age_s: float
    store_bytes: int
    """Size of the database files on disk (main file, WAL, shared memory)."""
    disk_free_bytes: int
    dropped_summaries: int
    faults: list[str]
    backlog_events: int = 0
    data_bytes: int = 0
    """Bytes counted against ``max_bytes`` (records' JSON plus ``ROW_OVERHEAD`` each)."""
    refused_events: int = 0
    over_limit: bool = False
    last_seq: int = 0


class Outbox:
    """See the module docstring. Build with ``Outbox.open``."""

    def __init__(
        self, path: Path, device_id: str, conn: sqlite3.Connection, *, max_bytes: int, hard_max_bytes: int
    ) -> None:
        self.path = path
        self.device_id = device_id
        self.max_bytes = max_bytes
        self.hard_max_bytes = hard_max_bytes
        self.reserve_bytes = max(RESERVE_MIN_BYTES, min(RESERVE_MAX_BYTES, max_bytes // 16))
        """Disk kept allocated beside the file (``<name>.reserve``) and freed when the disk fills up."""
        self._conn = conn
        self._lock = threading.Lock()
        self._closed = False
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        self._reserved = max(int(meta.get("reserved_seq", "0")), outbox_files.read_seq_mark(path))
        # a new file (no last_seq yet) continues above every number an earlier file of this path handed out
        self._last_seq = int(meta.get("last_seq", self._reserved))
        self._dropped = int(meta.get("dropped_summaries", "0"))
        self._refused = int(meta.get("refused_events", "0"))
        self._faults: deque[str] = deque(
            (text for (text,) in conn.execute("SELECT text FROM faults ORDER BY id DESC LIMIT ?", (MAX_FAULTS,))),
            maxlen=MAX_FAULTS,
        )
        self._faults.reverse()
        self._counts = {"event": 0, "summary": 0}
        self._bytes = {"event": 0, "summary": 0}
        for kind, count, size in conn.execute(
            "SELECT type, COUNT(*), COALESCE(SUM(size), 0) FROM records GROUP BY type"
        ):
            self._counts[kind] = int(count)
            self._bytes[kind] = int(size)
        self._data_bytes = sum(self._bytes.values())
        self._over_limit = False
        self._reserve_short = False

    # ---- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, device_id: str, *, max_bytes: int, hard_max_bytes: int | None = None) -> Outbox:
        """Open (or create) the outbox at ``path``; a corrupt file is quarantined and replaced."""
        try:
            _DEVICE_ID.validate_python(device_id)
        except ValidationError as exc:
            raise ConfigError(
                f"outbox device id {device_id!r} is invalid",
                hint="use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit",
            ) from exc
        if max_bytes < MIN_MAX_BYTES:
            raise ConfigError(f"outbox max_bytes={max_bytes} is too small", hint=f"use at least {MIN_MAX_BYTES}")
        hard = 2 * max_bytes if hard_max_bytes is None else hard_max_bytes
        if hard < max_bytes:
            raise ConfigError(
                f"outbox hard_max_bytes={hard} is below max_bytes={max_bytes}", hint="set hard_max_bytes >= max_bytes"
            )
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the outbox folder {path.parent}: {exc}", hint="fix the path") from exc
        fault = ""
        try:
            conn = connect_checked(path, max_bytes)
        except CorruptError as exc:
            conn, fault = replace_corrupt(path, max_bytes, str(exc))
        outbox = cls(path, device_id, conn, max_bytes=max_bytes, hard_max_bytes=hard)
        outbox._bind_device()
        if fault:
            outbox._fault(fault, level=logging.ERROR)
        with outbox._lock:
            outbox._ensure_reserved(outbox._last_seq)
            outbox._refill_reserve(opening=True)
        return outbox

    def _bind_device(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO meta (key, value) VALUES ('device_id', ?)", (self.device_id,))
        elif row[0] != self.device_id:
            self._conn.close()
            raise ConfigError(
                f"the outbox {self.path} belongs to device {row[0]!r}, not {self.device_id!r}",
                hint="give each device its own outbox path, or set the device id this outbox was made for",
            )

    # ---- writing -------------------------------------------------------------------------------

    def add_event(
        self,
        *,
        event_id: str,
        kind: Literal["start", "update", "end"],
        label: str,
        source: str,
        start_wall: float,
        time_wall: float,
        confidence: float,
        peak: float,
        frames: int,
        end_wall: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        unsure: bool = False,
        urgent: bool = False,
        model_version: str = "",
        stamp: Stamp | None = None,
    ) -> EventRecord:
        """Store one event change; it is committed and fsynced when this returns (else OutboxFullError)."""
        fields = {
            "event_id": event_id, "kind": kind, "label": label, "source": source, "start_wall": start_wall,
            "time_wall": time_wall, "end_wall": end_wall, "start_s": start_s, "end_s": end_s,
            "confidence": confidence, "peak": peak,
            "frames": frames, "unsure": unsure, "urgent": urgent, "model_version": model_version,
        }  # fmt: skip
        record = self._add("event", fields, stamp)
        assert isinstance(record, EventRecord)
        return record

    def add_summary(
        self,
        *,
        period_s: float,
        cameras: dict[str, CameraSummary] | None = None,
        model_version: str = "",
        stamp: Stamp | None = None,
    ) -> SummaryRecord | None:
        """Store one periodic summary; None if it was dropped because the store or disk is full."""
        fields = {"period_s": period_s, "cameras": cameras or {}, "model_version": model_version}
        try:
            record = self._add("summary", fields, stamp)
        except OutboxFullError:
            return None
        assert record is None or isinstance(record, SummaryRecord)
        return record

    def open_events(self) -> list[EventRecord]:
        """The latest record of each event started and not ended (by this run, or a run that was killed)."""
        return self._open_events()[0]

    def end_open_events(self, stamp: Stamp | None = None) -> list[EventRecord]:
        """End every event a previous run left open (call at start-up, before new events): an ``end`` record at
        the event's last recorded frame, ``interrupted=True``. An end the full disk refuses stays open for the
        next start (OutboxFullError)."""
        records, unreadable = self._open_events()
        if unreadable:  # written by a damaged (or newer) file: nothing to end it with, so it is not kept forever
            with self._lock:
                with self._transaction():
                    self._conn.executemany("DELETE FROM open_events WHERE event_id = ?", [(i,) for i in unreadable])
                self._fault(f"{len(unreadable)} open event(s) unreadable in the outbox, not ended: {unreadable[:3]}")
        ended = []
        for last in records:
            duration = max(0.0, last.time_wall - last.start_wall)
            record = self._add("event", {
                "event_id": last.event_id, "kind": "end", "label": last.label, "source": last.source,
                "start_wall": last.start_wall, "time_wall": last.time_wall, "end_wall": last.time_wall,
                "start_s": last.start_s, "end_s": None if last.start_s is None else last.start_s + duration,
                "confidence": last.confidence, "peak": last.peak, "frames": last.frames, "unsure": last.unsure,
                "urgent": last.urgent, "model_version": last.model_version, "interrupted": True,
            }, stamp)  # fmt: skip
            if isinstance(record, EventRecord):
                ended.append(record)
        return ended

    def _open_events(self) -> tuple[list[EventRecord], list[str]]:
        with self._lock:
            self._check_open()
            rows = self._conn.execute("SELECT event_id, body FROM open_events ORDER BY event_id").fetchall()
        records, unreadable = [], []
        for event_id, body in rows:
            try:
                record = RECORD.validate_json(body)
            except ValidationError:
                record = None
            if isinstance(record, EventRecord):
                records.append(record)
            else:
                unreadable.append(str(event_id))
        return records, unreadable

    def _add(
        self, kind: Literal["event", "summary"], fields: dict[str, object], stamp: Stamp | None
    ) -> EventRecord | SummaryRecord | None:
        stamp = stamp or Stamp.now()
        clock = Clock(
            wall=max(stamp.wall, 0.0), mono=max(stamp.mono, 0.0), boot_id=stamp.boot_id, trusted=stamp.trusted
        )
        with self._lock:
            self._check_open()
            seq = self._last_seq + 1
            model = EventRecord if kind == "event" else SummaryRecord
            try:
                record = model.model_validate({"seq": seq, "clock": clock, **fields})
            except ValidationError as exc:
                raise InputError(f"invalid outbox {kind}: {exc}", hint=f"fix the {kind}'s fields") from exc
            # a field added after wire v1 is sent only when set, so hubs of an earlier version accept the rest
            newer = {"interrupted"} if isinstance(record, EventRecord) and not record.interrupted else None
            body = record.model_dump_json(exclude=newer)
            size = len(body.encode()) + ROW_OVERHEAD
            if kind == "event" and self._reserve_short:
                self._refill_reserve()
                if self._reserve_short:  # the reserve is kept for acknowledgements, the only way out
                    self._refuse(kind, "the disk is full (waiting for acknowledgements to free space)")
            for attempt in range(DISK_FULL_RETRIES + 1):
                try:
                    self._ensure_reserved(seq)
                    stored = self._insert(record, body, size)
                except _HardLimitError:
                    self._refuse(kind, f"the store reached hard_max_bytes={self.hard_max_bytes}")
                    return None
                except (sqlite3.OperationalError, OSError) as exc:
                    self._recover_after_error()
                    if not _is_storage_full(exc):
                        raise
                    if kind == "summary":  # a summary never makes room: it is dropped itself
                        break
                    with self._reserve_released():
                        self._fault(f"disk full while storing an event ({exc}); deleting the oldest summaries")
                        freed = self._drop_oldest_summaries(SUMMARY_CHUNK)
                    if attempt == DISK_FULL_RETRIES or not freed:
                        break
                else:
                    return record if stored else None
            self._refuse(kind, "the disk is full")
            return None

    def _insert(self, record: EventRecord | SummaryRecord, body: str, size: int) -> bool:
        """Store ``record`` under the disk policy; False if it is a summary that was dropped."""
        kind = record.type
        if kind == "summary" and self._data_bytes - self._bytes["summary"] + size > self.max_bytes:
            self._refuse(kind, "no room even without older summaries")
            return False
        with self._transaction():
            count, freed = self._make_room(size)
            after = self._data_bytes - freed + size
            if kind == "event" and after > self.hard_max_bytes:
                raise _HardLimitError
            self._conn.execute(
                "INSERT INTO records (seq, type, wall, mono, boot_id, size, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record.seq, kind, record.clock.wall, record.clock.mono, record.clock.boot_id, size, body),
            )
            if isinstance(record, EventRecord):
                if record.kind == "end":
                    self._conn.execute("DELETE FROM open_events WHERE event_id = ?", (record.event_id,))
                else:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO open_events (event_id, body) VALUES (?, ?)", (record.event_id, body)
                    )
            self._set_meta("last_seq", record.seq)
            if count:
                self._set_meta("dropped_summaries", self._dropped + count)
        self._apply_drops(count, freed)
        self._last_seq = record.seq
        self._counts[kind] += 1
        self._bytes[kind] += size
        self._data_bytes += size
        over = self._data_bytes > self.max_bytes
        if over and not self._over_limit:
            self._fault(
                f"outbox over its soft limit ({self._data_bytes} > max_bytes={self.max_bytes}) with only events "
                f"left; accepting events up to hard_max_bytes={self.hard_max_bytes}"
            )
        self._over_limit = over
        return True

    def _make_room(self, size: int) -> tuple[int, int]:
        """Delete the oldest summaries until ``size`` more bytes fit under max_bytes: (count, bytes)."""
        deficit = self._data_bytes + size - self.max_bytes
        count = freed = 0
        while deficit > freed and self._counts["summary"] > count:
            rows = self._conn.execute(
                "SELECT seq, size FROM records WHERE type = 'summary' ORDER BY seq LIMIT 64"
            ).fetchall()
            if not rows:
                break
            take = []
            for seq, row_size in rows:
                take.append(seq)
                freed += int(row_size)
                if freed >= deficit:
                    break
            self._conn.executemany("DELETE FROM records WHERE seq = ?", [(s,) for s in take])
            count += len(take)
        return count, freed

    def _apply_drops(self, count: int, freed: int) -> None:
        if count:
            self._counts["summary"] -= count
            self._bytes["summary"] -= freed
            self._data_bytes -= freed
            self._dropped += count
            log.warning("outbox full: dropped the %d oldest summaries to keep events", count)

    def _drop_oldest_summaries(self, limit: int) -> bool:
        """Delete the oldest summaries in one small transaction (small: the WAL has little room)."""
        if not self._counts["summary"]:
            return False
        try:
            with self._transaction():
                rows = self._conn.execute(
                    "DELETE FROM records WHERE seq IN (SELECT seq FROM records WHERE type = 'summary' ORDER BY seq "
                    "LIMIT ?) RETURNING size",
                    (limit,),
                ).fetchall()
                self._set_meta("dropped_summaries", self._dropped + len(rows))
        except sqlite3.Error as exc:
            self._recover_after_error()
            log.warning("outbox: could not delete summaries to make room: %s", exc)
            return False
        self._apply_drops(len(rows), sum(int(r[0]) for r in rows))
        return bool(rows)

    def _refuse(self, kind: str, why: str) -> None:
        if kind == "summary":
            self._dropped += 1
            try:
                self._set_meta("dropped_summaries", self._dropped)
            except sqlite3.Error as exc:
                log.warning("outbox: could not count a dropped summary: %s", exc)
            log.warning("outbox: summary dropped: %s", why)
            return
        self._refused += 1
        try:
            self._set_meta("refused_events", self._refused)
        except sqlite3.Error as exc:
            log.warning("outbox: could not count a refused event: %s", exc)
        self._fault(f"event refused: {why} (store {self._data_bytes} bytes, {self._refused} events refused so far)")
        raise OutboxFullError(
            f"the outbox could not store an event: {why}",
            hint="free disk space or raise edge outbox max_bytes; the link must drain the backlog",
        )

    def _ensure_reserved(self, seq: int) -> None:
        if seq <= self._reserved:
            return
        target = seq + SEQ_BLOCK
        outbox_files.write_seq_mark(self.path, target)
        self._reserved = target
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('reserved_seq', ?)", (str(target),))

    # ---- reading and acknowledging -------------------------------------------------------------

    def pending(self, limit: int) -> list[EventRecord | SummaryRecord]:
        """Up to ``limit`` unacknowledged records, oldest first."""
        return [RECORD.validate_json(body) for _, body in self.pending_json(limit)]

    def pending_json(self, limit: int, max_bytes: int | None = None) -> list[tuple[int, str]]:
        """Up to ``limit`` unacknowledged records as (seq, JSON), oldest first, within ``max_bytes`` of JSON
        (the first record is always included, so one large record never blocks the queue)."""
        with self._lock:
            self._check_open()
            rows = self._conn.execute("SELECT seq, body FROM records ORDER BY seq LIMIT ?", (max(0, limit),)).fetchall()
        out: list[tuple[int, str]] = []
        total = 0
        for seq, body in rows:
            total += len(body) + 1
            if out and max_bytes is not None and total > max_bytes:
                break
            out.append((int(seq), str(body)))
        return out

    def ack(self, seqs: Iterable[int]) -> None:
        """Delete the records the hub acknowledged (unknown numbers are ignored)."""
        wanted = sorted({int(s) for s in seqs})
        if not wanted:
            return
        with self._lock:
            self._check_open()
            for i in range(0, len(wanted), ACK_CHUNK):  # small transactions: a nearly full disk has a small WAL
                deleted = self._delete_acked(wanted[i : i + ACK_CHUNK])
                if deleted is None:
                    break
                for kind, size in deleted:
                    self._counts[kind] -= 1
                    self._bytes[kind] -= int(size)
                    self._data_bytes -= int(size)
            self._over_limit = self._data_bytes > self.max_bytes
            if not self._vacuum() or self._reserve_short:
                with self._reserve_released():  # the vacuum needs a little room in the WAL
                    pass
            self._refill_reserve()

    def stats(self) -> OutboxStats:
        with self._lock:
            self._check_open()
            row = self._conn.execute("SELECT wall, mono, boot_id FROM records ORDER BY seq LIMIT 1").fetchone()
            now = Stamp.now()
            age = 0.0
            if row is not None:
                age = now.mono - float(row[1]) if row[2] == now.boot_id else now.wall - float(row[0])
            return OutboxStats(
                backlog_records=self._counts["event"] + self._counts["summary"],
                backlog_oldest_age_s=max(0.0, age),
                store_bytes=self._store_bytes(),
                disk_free_bytes=shutil.disk_usage(self.path.parent).free,
                dropped_summaries=self._dropped,
                faults=list(self._faults),
                backlog_events=self._counts["event"],
                data_bytes=self._data_bytes,
                refused_events=self._refused,
                over_limit=self._over_limit,
                last_seq=self._last_seq,
            )

    @property
    def faults(self) -> list[str]:
        with self._lock:
            return list(self._faults)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._checkpoint("TRUNCATE")
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -----------------------------------------------------------------------------

    def _store_bytes(self) -> int:
        total = 0
        for p in (self.path, *(self.path.with_name(self.path.name + s) for s in outbox_files.SIDE_SUFFIXES)):
            with suppress(OSError):
                total += p.stat().st_size
        return total

    def _check_open(self) -> None:
        if self._closed:
            raise MlwayError("the outbox is closed", hint="open it again with Outbox.open")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _delete_acked(self, seqs: list[int]) -> list[tuple[str, int]] | None:
        """Delete acknowledged records: (type, size) of each deleted; None if the disk refused even with the
        reserve freed (the records stay and are sent again; the hub acknowledges them as duplicates)."""
        try:
            return self._delete(seqs)
        except sqlite3.OperationalError as exc:
            self._recover_after_error()
            if not is_disk_full(exc):
                raise
        try:
            with self._reserve_released():  # deleting needs room in the WAL: use the reserve
                return self._delete(seqs)
        except sqlite3.OperationalError as again:
            self._recover_after_error()
            self._fault(f"could not delete acknowledged records ({again}); they will be sent again")
            return None

    def _delete(self, seqs: list[int]) -> list[tuple[str, int]]:
        marks = ",".join("?" * len(seqs))
        with self._transaction():
            rows = self._conn.execute(
                f"DELETE FROM records WHERE seq IN ({marks}) RETURNING type, size",  # noqa: S608 (placeholders only)
                seqs,
            ).fetchall()
        return [(str(kind), int(size)) for kind, size in rows]

    @contextmanager
    def _reserve_released(self) -> Iterator[None]:
        """Free the disk reserve for housekeeping on a full disk (checkpoint, deletions), then take back
        what is free again, so new records fill only the pages the deletions freed inside the file."""
        released = outbox_files.release_reserve(self.path)
        self._checkpoint("RESTART")
        try:
            yield
        finally:
            self._checkpoint("RESTART")
            self._vacuum(stepwise=True)
            size = max(released, self.reserve_bytes)
            got = outbox_files.ensure_reserve(self.path, size, at_least=16 * 1024)
            self._reserve_short = got < size

    def _refill_reserve(self, *, opening: bool = False) -> None:
        """Create the disk reserve at open (as much as fits), and again once the disk has room."""
        size = self.reserve_bytes
        if opening:
            outbox_files.ensure_reserve(self.path, size, at_least=16 * 1024)
        elif self._reserve_short and shutil.disk_usage(self.path.parent).free >= size:
            self._reserve_short = outbox_files.ensure_reserve(self.path, size) < size

    def _vacuum(self, *, stepwise: bool = False) -> bool:
        """Give pages freed inside the file back to the disk once there are VACUUM_PAGES of them (all of
        them, or ``stepwise`` a few per transaction when the WAL has little room); False if a write failed."""
        try:
            free = int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])
            if not stepwise:
                if free >= VACUUM_PAGES:
                    self._conn.execute("PRAGMA incremental_vacuum").fetchall()
                return True
            while free > 0:
                self._conn.execute(f"PRAGMA incremental_vacuum({WAL_CHECKPOINT_PAGES // 2})").fetchall()
                self._checkpoint("PASSIVE")
                before, free = free, int(self._conn.execute("PRAGMA freelist_count").fetchone()[0])
                if free >= before:  # not an incremental-vacuum file (made elsewhere): nothing to give back
                    break
        except sqlite3.Error as exc:
            log.warning("outbox: incremental vacuum failed: %s", exc)
            return False
        return True

    def _checkpoint(self, mode: str) -> None:
        try:
            self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        except sqlite3.Error as exc:
            log.warning("outbox: checkpoint failed: %s", exc)

    def _set_meta(self, key: str, value: int) -> None:
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def _recover_after_error(self) -> None:
        """After a failed write: roll back and re-read the sequence number the file really holds."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
            top = self._conn.execute("SELECT MAX(seq) FROM records").fetchone()
            self._last_seq = max(self._last_seq, int(row[0]) if row else 0, int(top[0] or 0))
        except sqlite3.Error as exc:
            log.warning("outbox: could not roll back after a failed write: %s", exc)

    def _fault(self, text: str, *, level: int = logging.WARNING) -> None:
        log.log(level, "outbox %s: %s", self.path, text)
        self._faults.append(text)
        try:
            self._conn.execute("INSERT INTO faults (wall, text) VALUES (?, ?)", (Stamp.now().wall, text))
            self._conn.execute("DELETE FROM faults WHERE id <= (SELECT MAX(id) FROM faults) - ?", (MAX_FAULTS,))
        except sqlite3.Error as exc:  # a full disk: the fault stays in memory and in the log
            log.warning("outbox: could not persist a fault: %s", exc)


class _HardLimitError(Exception):
    """Internal: the event would take the store over hard_max_bytes."""


def _is_storage_full(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return is_disk_full(exc)
    return isinstance(exc, OSError) and exc.errno in {28, 27}  # ENOSPC, EFBIG
