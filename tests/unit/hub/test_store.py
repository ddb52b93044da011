"""The hub store on real SQLite files: records stored once, events' latest state, schema and reopening."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mlway.core.errors import InputError
from mlway.core.wire import IngestBatch
from mlway.hub import HubStore
from mlway.hub.schema import MIGRATIONS, SCHEMA_VERSION, TABLES
from mlway.hub.store import _apply
from mlway.hub.testing import event_record, summary_record


@pytest.fixture
def store(tmp_path: Path) -> HubStore:
    s = HubStore.open(tmp_path / "hub.db")
    s.add_device("combine-07")
    return s


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_a_repeated_batch_is_acknowledged_and_not_stored_twice(store: HubStore) -> None:
    batch = IngestBatch(
        device_id="combine-07", records=[event_record(1), event_record(2, kind="update"), summary_record(3)]
    )
    first = store.ingest(batch).ack
    again = store.ingest(batch).ack
    assert (first.acked, first.stored, first.duplicates) == ([1, 2, 3], 3, 0)
    assert (again.acked, again.stored, again.duplicates) == ([1, 2, 3], 0, 3)
    assert rows(store.path, "SELECT seq, type FROM records ORDER BY seq") == [
        (1, "event"),
        (2, "event"),
        (3, "summary"),
    ]
    assert store.fleet().devices[0].records == 3


def test_a_seq_repeated_inside_one_batch_is_stored_once(store: HubStore) -> None:
    done = store.ingest(IngestBatch(device_id="combine-07", records=[event_record(5), event_record(5)]))
    assert (done.ack.acked, done.ack.stored, done.ack.duplicates) == ([5], 1, 1)


def test_partly_new_batches_store_only_the_new_records(store: HubStore) -> None:
    store.ingest(IngestBatch(device_id="combine-07", records=[event_record(i) for i in (1, 2)]))
    ack = store.ingest(IngestBatch(device_id="combine-07", records=[event_record(i) for i in (2, 3, 4)])).ack
    assert (ack.stored, ack.duplicates) == (2, 1)
    assert store.fleet().devices[0].last_seq == 4


def test_a_repeat_with_different_content_keeps_the_first_copy_and_counts_a_conflict(store: HubStore) -> None:
    store.ingest(IngestBatch(device_id="combine-07", records=[event_record(1, label="unloading")]))
    done = store.ingest(IngestBatch(device_id="combine-07", records=[event_record(1, label="failure")]))
    assert (done.ack.stored, done.ack.duplicates, done.conflicts) == (0, 1, 1)
    assert [e.label for e in store.events()] == ["unloading"]


def test_an_event_keeps_its_latest_update_whatever_order_the_records_arrive_in(store: HubStore) -> None:
    start = event_record(10, event_id="ev", kind="start", confidence=0.6)
    update = event_record(11, event_id="ev", kind="update", confidence=0.8)
    end = event_record(12, event_id="ev", kind="end", confidence=0.7)
    store.ingest(IngestBatch(device_id="combine-07", records=[end]))
    store.ingest(IngestBatch(device_id="combine-07", records=[update, start]))
    (event,) = store.events()
    assert (event.state, event.confidence, event.updates) == ("ended", 0.7, 3)
    assert event.end_wall == end.end_wall


def test_events_filter_by_device_label_state_and_since(store: HubStore) -> None:
    store.add_device("combine-08")
    store.ingest(
        IngestBatch(
            device_id="combine-07",
            records=[
                event_record(1, event_id="a", label="unloading", start_wall=1_800_000_000),
                event_record(2, event_id="b", label="failure", start_wall=1_800_000_100),
                event_record(3, event_id="a", kind="end", label="unloading", start_wall=1_800_000_000),
            ],
        )
    )
    store.ingest(IngestBatch(device_id="combine-08", records=[event_record(1, event_id="c", start_wall=1_800_000_200)]))
    assert [e.event_id for e in store.events()] == ["c", "b", "a"]
    assert [e.event_id for e in store.events(device="combine-07")] == ["b", "a"]
    assert [e.event_id for e in store.events(label="failure")] == ["b"]
    assert [e.event_id for e in store.events(state="ended")] == ["a"]
    assert [e.event_id for e in store.events(since=1_800_000_100)] == ["c", "b"]
    assert [e.event_id for e in store.events(limit=1)] == ["c"]


def test_the_schema_has_a_version_and_constraints(store: HubStore) -> None:
    assert rows(store.path, "SELECT version FROM schema_version") == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
    with sqlite3.connect(store.path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(
                "INSERT INTO records (device_id, seq, type, wall, mono, boot_id, trusted, received_wall, payload)"
                " VALUES ('nobody', 1, 'event', 0, 0, 'b', 1, 0, '{}')"
            )
    assert rows(store.path, "PRAGMA journal_mode") == [("wal",)]


def test_reopening_keeps_devices_and_records(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with HubStore.open(path) as store:
        token = store.add_device("combine-07")
        store.ingest(IngestBatch(device_id="combine-07", records=[event_record(1)]))
    with HubStore.open(path) as store:
        assert store.authenticate(token) == "combine-07"
        assert store.ingest(IngestBatch(device_id="combine-07", records=[event_record(1)])).ack.duplicates == 1


def test_another_sqlite_file_is_refused_with_its_tables_named(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(InputError, match=r"not an mlway hub database.*photos"):
        HubStore.open(path)


def test_a_newer_schema_is_refused_with_the_upgrade_hint(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    HubStore.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(InputError, match=f"schema version {SCHEMA_VERSION + 1}") as info:
        HubStore.open(path)
    assert "pip install -U" in str(info.value)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    path.write_bytes(b"this is a text file, not a database" * 100)
    with pytest.raises(InputError, match=r"cannot (open|use) .*hub\.db"):
        HubStore.open(path)


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"directory .*missing does not exist"):
        HubStore.open(tmp_path / "missing" / "hub.db")


def test_a_version_1_database_is_migrated_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path, isolation_level=None) as conn:  # what mlway wrote before schema version 2
        for statement in TABLES:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version VALUES (1, 0)")
        conn.execute("INSERT INTO devices (device_id, token_sha256, created_wall) VALUES ('d1', ?, 0)", ("0" * 64,))
        conn.execute(
            "INSERT INTO events VALUES ('d1', 'old', 'unloading', 'auger', 'ended', 1, 2, NULL, NULL, 0.9, 0.9, 0, 0,"
            " 'm', 2, 1, 7)"
        )
    conn.close()
    with HubStore.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        (old,) = store.events()
        assert (old.event_id, old.state, old.interrupted) == ("old", "ended", False)


def test_an_event_ended_at_the_agents_restart_is_shown_interrupted(store: HubStore) -> None:
    end = event_record(2, kind="end").model_copy(update={"interrupted": True})
    store.ingest(IngestBatch(device_id="combine-07", records=[event_record(1), end]))
    (event,) = store.events()
    assert (event.state, event.interrupted) == ("ended", True)


def test_a_migration_another_hub_applied_meanwhile_is_not_applied_twice(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    HubStore.open(path).close()  # at the current version
    with sqlite3.connect(path, isolation_level=None) as conn:  # a second hub that read version 1 before
        _apply(conn, MIGRATIONS[2], 2)  # would fail on the duplicate column if it ran again
    conn.close()
    assert rows(path, "SELECT version FROM schema_version") == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
