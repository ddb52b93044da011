"""The outbox on real SQLite files: sequence numbers, acknowledgement, disk policy, corruption, threads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from mlway.core.clock import Stamp
from mlway.core.errors import ConfigError
from mlway.core.wire import CameraSummary, EventRecord, SummaryRecord
from mlway.edge.outbox import WAL_CHECKPOINT_PAGES, Outbox, OutboxFullError


def add_event(outbox: Outbox, n: int = 0, *, label: str = "unloading") -> EventRecord:
    return outbox.add_event(
        event_id=f"e{n}", kind="start", label=label, source="auger", start_wall=1.0, time_wall=2.0,
        confidence=0.9, peak=0.95, frames=4,
    )  # fmt: skip


def add_summary(outbox: Outbox) -> SummaryRecord | None:
    cams = {f"cam{i}": CameraSummary(frames_in=600, frames_inferred=300, frames_dropped=2, fps=5.0) for i in range(4)}
    return outbox.add_summary(period_s=60, cameras=cams, model_version="v1")


def test_sequence_increases_across_reopen_even_when_everything_was_acked(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    with Outbox.open(db, "combine-07", max_bytes=2**20) as outbox:
        first = [add_event(outbox, i).seq for i in range(3)]
        summary = add_summary(outbox)
        assert summary is not None
        outbox.ack([*first, summary.seq])
        assert outbox.stats().backlog_records == 0
    with Outbox.open(db, "combine-07", max_bytes=2**20) as outbox:
        later = add_event(outbox, 9)
    assert first == [1, 2, 3]
    assert summary.seq == 4
    assert later.seq == 5


def test_records_carry_the_clocks_and_boot_of_the_device(tmp_path: Path) -> None:
    stamp = Stamp(wall=12.0, mono=3.5, boot_id="boot-a")  # a board that booted at 1970
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=2**20) as outbox:
        outbox.add_event(
            event_id="e", kind="end", label="failure", source="cam", start_wall=1, time_wall=2, end_wall=3,
            confidence=0.7, peak=0.8, frames=9, urgent=True, stamp=stamp,
        )  # fmt: skip
        add_event(outbox)
        records = outbox.pending(10)
    assert records[0].clock.wall == 12.0
    assert records[0].clock.boot_id == "boot-a"
    assert records[0].clock.trusted is False
    assert records[1].clock.trusted is True
    assert records[1].clock.boot_id == Stamp.now().boot_id


def test_ack_deletes_only_the_acknowledged_records_and_pending_is_oldest_first(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        seqs = [add_event(outbox, i).seq for i in range(10)]
        outbox.ack([seqs[1], seqs[4], 999])  # 999: never issued, ignored
        assert [r.seq for r in outbox.pending(3)] == [1, 3, 4]
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        left = [r.seq for r in outbox.pending(100)]
        assert left == [s for s in seqs if s not in (2, 5)]
        assert outbox.stats().backlog_records == 8


def test_pending_json_respects_the_byte_cap_but_always_returns_one(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=2**20) as outbox:
        for i in range(5):
            add_event(outbox, i)
        sizes = [len(body) + 1 for _, body in outbox.pending_json(5)]  # records differ by a few float digits
        assert len(outbox.pending_json(5, max_bytes=sizes[0] + sizes[1] + 1)) == 2
        assert len(outbox.pending_json(5, max_bytes=1)) == 1


def test_full_store_drops_oldest_summaries_first_and_never_an_event(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=32 * 1024, hard_max_bytes=48 * 1024) as outbox:
        summaries = [s.seq for s in (add_summary(outbox) for _ in range(30)) if s is not None]
        assert outbox.stats().dropped_summaries == 0
        events = [add_event(outbox, i).seq for i in range(60)]
        stats = outbox.stats()
        kept = {r.seq for r in outbox.pending(10_000)}
    assert set(events) <= kept  # every event is still there
    kept_summaries = sorted(kept - set(events))
    assert stats.dropped_summaries == len(summaries) - len(kept_summaries) > 0
    assert kept_summaries == summaries[len(summaries) - len(kept_summaries) :]  # the oldest went first
    assert stats.data_bytes <= 32 * 1024


def fill_with_events(outbox: Outbox, confirmed: list[int]) -> None:
    for i in range(10_000):
        confirmed.append(add_event(outbox, i).seq)  # noqa: PERF401 (keeps those confirmed before the refusal)


def quick_check(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()


def test_only_events_left_go_over_the_soft_limit_then_refuse_loudly_at_the_hard_limit(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    with Outbox.open(db, "d1", max_bytes=16 * 1024, hard_max_bytes=24 * 1024) as outbox:
        confirmed: list[int] = []
        with pytest.raises(OutboxFullError, match="hard_max_bytes") as refused:
            fill_with_events(outbox, confirmed)
        assert "raise edge outbox max_bytes" in str(refused.value)
        stats = outbox.stats()
        assert stats.over_limit
        assert stats.refused_events == 1
        assert 16 * 1024 < stats.data_bytes <= 24 * 1024
        assert any("soft limit" in f for f in stats.faults)
        assert any("event refused" in f for f in stats.faults)
        assert add_summary(outbox) is None  # no room for summaries either
        assert outbox.stats().dropped_summaries == 1
        outbox.ack(confirmed[: len(confirmed) // 2])  # the link drains half: room again
        assert not outbox.stats().over_limit
        assert add_event(outbox, -1).seq == confirmed[-1] + 1  # refused records take no number: no gap
    with Outbox.open(db, "d1", max_bytes=16 * 1024) as outbox:
        assert outbox.stats().refused_events == 1  # counters persist
        assert [r.seq for r in outbox.pending(10_000)][: len(confirmed) - len(confirmed) // 2] == confirmed[
            len(confirmed) // 2 :
        ]


def test_store_files_stay_bounded_while_the_backlog_turns_over(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    with Outbox.open(db, "d1", max_bytes=64 * 1024) as outbox:
        for _ in range(20):
            seqs = [add_event(outbox, i).seq for i in range(100)]
            add_summary(outbox)
            outbox.ack(seqs)
        stats = outbox.stats()
    assert stats.backlog_records == 20
    wal_and_shm = 2 * WAL_CHECKPOINT_PAGES * 4096 + 32 * 1024  # checkpointed at 64 pages, plus one transaction
    assert stats.store_bytes < 64 * 1024 + wal_and_shm, (
        f"{stats.store_bytes} bytes on disk"
    )  # 20 x 100 events went through


def test_garbage_over_the_file_is_quarantined_and_a_fresh_outbox_continues_the_sequence(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        last = [add_event(outbox, i).seq for i in range(5)][-1]
    db.write_bytes(b"this is not sqlite, a card that lost power mid-write " * 200)
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        stats = outbox.stats()
        nxt = add_event(outbox, 99).seq
    moved = list(tmp_path.glob("outbox.db.corrupt-*"))
    assert len(moved) == 1
    assert moved[0].read_bytes().startswith(b"this is not sqlite")
    assert len(stats.faults) == 1
    assert "corrupt" in stats.faults[0]
    assert moved[0].name in stats.faults[0]
    assert nxt > last  # the hub would take a reused number for a duplicate and drop the event
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        assert outbox.stats().faults == stats.faults  # the fault is kept for the next heartbeats
        assert [r.seq for r in outbox.pending(10)] == [nxt]


def test_a_damaged_page_is_quarantined_and_readable_records_are_salvaged(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    with Outbox.open(db, "d1", max_bytes=8 * 2**20) as outbox:
        seqs = [add_event(outbox, i, label="x" * 60).seq for i in range(400)]
    page = 4096
    size = db.stat().st_size
    with db.open("r+b") as f:  # overwrite one page in the middle of the records' b-tree
        f.seek((size // page // 2) * page)
        f.write(b"\xff" * page)
    assert quick_check(db) != "ok"
    with Outbox.open(db, "d1", max_bytes=8 * 2**20) as outbox:
        salvaged = [r.seq for r in outbox.pending(1000)]
        nxt = add_event(outbox).seq
        faults = outbox.stats().faults
    assert len(list(tmp_path.glob("outbox.db.corrupt-*"))) == 1
    assert set(salvaged) <= set(seqs)
    assert f"{len(salvaged)} unacknowledged records salvaged" in faults[0]
    assert nxt > seqs[-1]


def test_sequence_survives_the_loss_of_the_database_through_its_mark(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        last = [add_event(outbox, i).seq for i in range(3)][-1]
    for p in tmp_path.glob("o.db*"):
        if not p.name.endswith(".seq"):
            p.unlink()
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        assert add_event(outbox).seq > last


def test_an_outbox_of_another_device_or_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=2**20):
        pass
    with pytest.raises(ConfigError, match="belongs to device 'd1'"):
        Outbox.open(tmp_path / "o.db", "d2", max_bytes=2**20)
    with sqlite3.connect(tmp_path / "other.db") as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.close()
    with pytest.raises(ConfigError, match="not an mlway outbox"):
        Outbox.open(tmp_path / "other.db", "d1", max_bytes=2**20)
    with pytest.raises(ConfigError, match="device id"):
        Outbox.open(tmp_path / "x.db", "bad id!", max_bytes=2**20)
    with pytest.raises(ConfigError, match="max_bytes"):
        Outbox.open(tmp_path / "x.db", "d1", max_bytes=100)


def test_writers_and_an_uploader_on_several_threads_lose_and_repeat_nothing(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=8 * 2**20) as outbox:
        issued: list[int] = []
        acked: list[int] = []
        lock = threading.Lock()
        done = threading.Event()

        def writer(k: int) -> None:
            for i in range(100):
                seq = add_event(outbox, k * 1000 + i).seq if i % 10 else (add_summary(outbox) or add_event(outbox)).seq
                with lock:
                    issued.append(seq)

        def uploader() -> None:
            while not done.is_set() or outbox.stats().backlog_records:
                batch = [seq for seq, _ in outbox.pending_json(37)]
                outbox.ack(batch)
                acked.extend(batch)

        up = threading.Thread(target=uploader)
        up.start()
        writers = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        done.set()
        up.join(timeout=30)
        assert outbox.stats().backlog_records == 0
    assert sorted(issued) == list(range(1, 401))
    assert sorted(acked) == sorted(issued)  # each record handed to the uploader exactly once it acked


def change(outbox: Outbox, event_id: str, kind: str, time_wall: float, *, frames: int = 4) -> EventRecord:
    return outbox.add_event(
        event_id=event_id, kind=kind, label="unloading", source="auger", start_wall=100.0, time_wall=time_wall,
        end_wall=time_wall if kind == "end" else None, start_s=10.0, end_s=10.0 + time_wall - 100 if kind == "end"
        else None, confidence=0.8, peak=0.9, frames=frames, urgent=True, model_version="m@1/int8",
    )  # fmt: skip


def test_events_a_killed_run_left_open_are_ended_at_their_last_frame_after_acks_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        change(outbox, "a", "start", 101.0)
        change(outbox, "a", "update", 107.5, frames=30)
        change(outbox, "b", "start", 103.0)
        change(outbox, "b", "end", 104.0)
        outbox.ack([r.seq for r in outbox.pending(10)])  # the hub has them all: open events survive the acks
        assert [e.event_id for e in outbox.open_events()] == ["a"]
    # the process died here: "a" never got its end
    with Outbox.open(db, "d1", max_bytes=2**20) as outbox:
        ended = outbox.end_open_events()
        assert outbox.open_events() == []
        pending = outbox.pending(10)
        assert outbox.end_open_events() == []  # once
    assert [(e.event_id, e.kind, e.interrupted) for e in ended] == [("a", "end", True)]
    end = ended[0]
    assert (end.end_wall, end.end_s, end.frames, end.urgent, end.model_version) == (107.5, 17.5, 30, True, "m@1/int8")
    assert pending == ended


def test_an_event_ended_normally_leaves_nothing_to_end_and_interrupted_is_for_ends_only(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=2**20) as outbox:
        change(outbox, "a", "start", 101.0)
        change(outbox, "a", "end", 102.0)
        assert outbox.end_open_events() == []
    with pytest.raises(ValueError, match="interrupted is for kind 'end' only"):
        EventRecord.model_validate({**ended_fields(), "kind": "start", "interrupted": True})


def ended_fields() -> dict[str, object]:
    return {"seq": 1, "clock": {"wall": 1.0, "mono": 1.0, "boot_id": "b", "trusted": True}, "event_id": "e",
            "kind": "end", "label": "x", "source": "cam", "start_wall": 1.0, "time_wall": 2.0, "confidence": 0.5,
            "peak": 0.5, "frames": 1}  # fmt: skip


def test_open_events_survive_a_corrupt_file(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    with Outbox.open(db, "d1", max_bytes=8 * 2**20) as outbox:
        change(outbox, "open-one", "start", 101.0)
        for i in range(400):
            add_event(outbox, i, label="x" * 60)
    with sqlite3.connect(db) as conn:
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'records'").fetchone()
    conn.close()
    with db.open("r+b") as f:  # damage the records' b-tree root: no record is readable, open events are
        f.seek((root - 1) * 4096)
        f.write(b"\xff" * 4096)
    assert quick_check(db) != "ok"
    with Outbox.open(db, "d1", max_bytes=8 * 2**20) as outbox:
        ended = outbox.end_open_events()
    assert {e.event_id for e in ended} == {"open-one"} | {f"e{i}" for i in range(400)}  # add_event's are starts
    assert all(e.interrupted for e in ended)


def test_records_carry_interrupted_only_when_set_so_older_hubs_accept_them(tmp_path: Path) -> None:
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=2**20) as outbox:
        change(outbox, "a", "start", 101.0)
    with Outbox.open(tmp_path / "o.db", "d1", max_bytes=2**20) as outbox:
        outbox.end_open_events()
        (_, start), (_, end) = outbox.pending_json(10)
    assert "interrupted" not in start
    assert '"interrupted":true' in end
