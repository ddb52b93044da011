"""The hub database schema (version 2), in plain SQL that SQLite runs today and PostgreSQL can carry later.

Explicit types and constraints everywhere (SQLite enforces CHECK, NOT NULL, PRIMARY KEY and foreign keys
with ``PRAGMA foreign_keys=ON``); booleans are BOOLEAN (0/1 in SQLite), times are DOUBLE PRECISION
seconds since the epoch, JSON documents are TEXT (JSONB in PostgreSQL).

    schema_version  one row per applied version
    devices         a device's name, its token's SHA-256 (never the token), revocation, counters
    records         every record a device uploaded, once: PRIMARY KEY (device_id, seq) is the idempotency key
    events          each event's latest state (the update with the highest seq wins; updates counts them)
    heartbeats      the latest heartbeat of each device

A new database gets ``TABLES`` then every migration; an older one gets the migrations it lacks, in one
transaction, each recorded in ``schema_version``.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

TABLES = (
    """CREATE TABLE schema_version (
        version INTEGER NOT NULL PRIMARY KEY,
        applied_wall DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE devices (
        device_id VARCHAR(63) NOT NULL PRIMARY KEY,
        token_sha256 CHAR(64) NOT NULL UNIQUE,
        created_wall DOUBLE PRECISION NOT NULL,
        revoked_wall DOUBLE PRECISION,
        last_seen_wall DOUBLE PRECISION,
        records INTEGER NOT NULL DEFAULT 0 CHECK (records >= 0),
        last_seq BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
    )""",
    """CREATE TABLE records (
        device_id VARCHAR(63) NOT NULL REFERENCES devices (device_id),
        seq BIGINT NOT NULL CHECK (seq >= 1),
        type VARCHAR(16) NOT NULL CHECK (type IN ('event', 'summary')),
        wall DOUBLE PRECISION NOT NULL,
        mono DOUBLE PRECISION NOT NULL,
        boot_id VARCHAR(64) NOT NULL,
        trusted BOOLEAN NOT NULL,
        received_wall DOUBLE PRECISION NOT NULL,
        payload TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
    )""",
    """CREATE TABLE events (
        device_id VARCHAR(63) NOT NULL REFERENCES devices (device_id),
        event_id VARCHAR(128) NOT NULL,
        label VARCHAR(64) NOT NULL,
        source VARCHAR(128) NOT NULL,
        state VARCHAR(8) NOT NULL CHECK (state IN ('open', 'ended')),
        start_wall DOUBLE PRECISION NOT NULL,
        end_wall DOUBLE PRECISION,
        start_s DOUBLE PRECISION,
        end_s DOUBLE PRECISION,
        confidence DOUBLE PRECISION NOT NULL,
        peak DOUBLE PRECISION NOT NULL,
        unsure BOOLEAN NOT NULL,
        urgent BOOLEAN NOT NULL,
        model_version VARCHAR(128) NOT NULL,
        updates INTEGER NOT NULL CHECK (updates >= 1),
        clock_trusted BOOLEAN NOT NULL,
        last_seq BIGINT NOT NULL,
        PRIMARY KEY (device_id, event_id)
    )""",
    "CREATE INDEX events_start_wall ON events (start_wall)",
    "CREATE INDEX events_label ON events (label, start_wall)",
    """CREATE TABLE heartbeats (
        device_id VARCHAR(63) NOT NULL PRIMARY KEY REFERENCES devices (device_id),
        received_wall DOUBLE PRECISION NOT NULL,
        payload TEXT NOT NULL
    )""",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: an event ended at the agent's restart (it was killed with the event open) says so
    2: ("ALTER TABLE events ADD COLUMN interrupted BOOLEAN NOT NULL DEFAULT FALSE",),
}
"""Statements that take a database from version ``n - 1`` to ``n``."""

TABLE_NAMES = ("schema_version", "devices", "records", "events", "heartbeats")
