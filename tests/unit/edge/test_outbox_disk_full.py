"""A really full disk under the outbox: a 4 MiB tmpfs (in a user+mount namespace) and a file size limit.

The child process fills the outbox until the disk refuses, keeps going (the agent must not die), then
reopens the file and lists what survived. Every event the outbox confirmed must still be there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = r"""
import json, resource, signal, sys
from pathlib import Path
from mlway.core.wire import CameraSummary
from mlway.edge.outbox import Outbox, OutboxFullError

folder, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "rlimit":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing us
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
db = folder / "outbox.db"
cams = {f"cam{i}": CameraSummary(frames_in=600, frames_inferred=300, frames_dropped=0, fps=5.0) for i in range(6)}
confirmed, refused, summaries_none = [], 0, 0
outbox = Outbox.open(db, "d1", max_bytes=64 << 20)  # the soft limit is far away: the disk is the limit
for i in range(20_000):
    if i % 3 == 0 and outbox.add_summary(period_s=60, cameras=cams) is None:
        summaries_none += 1
    try:
        confirmed.append(outbox.add_event(event_id=f"e{i}", kind="start", label="unloading", source="auger",
                                          start_wall=1, time_wall=2, confidence=0.9, peak=0.9, frames=3).seq)
    except OutboxFullError:
        refused += 1
        if refused >= 20:
            break
stats = outbox.stats()
outbox.ack(confirmed[:-50])  # the link comes back: acks still work on a full disk
try:
    after_ack = outbox.add_event(event_id="late", kind="start", label="unloading", source="auger",
                                 start_wall=1, time_wall=2, confidence=0.9, peak=0.9, frames=3).seq
except OutboxFullError:
    after_ack = None
outbox.close()
reopened = Outbox.open(db, "d1", max_bytes=64 << 20)
kept = [r.seq for r in reopened.pending(100_000) if r.type == "event"]
print(json.dumps({"confirmed": confirmed, "refused": refused, "summaries_none": summaries_none,
                  "dropped": stats.dropped_summaries, "faults": stats.faults, "kept": kept,
                  "after_ack": after_ack}))
"""


def run_child(tmp_path: Path, mode: str) -> dict[str, object]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    folder = tmp_path / "disk"
    folder.mkdir()
    cmd = [sys.executable, str(script), str(folder), mode]
    if mode == "tmpfs":
        inner = f'mount -t tmpfs -o size=4m tmpfs "{folder}" && exec "$@"'
        cmd = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", inner, "sh", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    if mode == "tmpfs" and proc.returncode != 0 and "mount" in proc.stderr and not proc.stdout:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("mode", ["tmpfs", "rlimit"])
def test_a_full_disk_refuses_events_loudly_and_keeps_every_confirmed_one(tmp_path: Path, mode: str) -> None:
    if mode == "tmpfs" and shutil.which("unshare") is None:
        pytest.skip("no unshare(1) to mount a private tmpfs")
    out = run_child(tmp_path, mode)
    confirmed, kept = out["confirmed"], out["kept"]
    assert isinstance(confirmed, list)
    assert isinstance(kept, list)
    assert len(confirmed) > 100  # the disk took a good number before filling
    assert out["refused"] == 20  # the child kept running through 20 refusals
    faults = out["faults"]
    assert isinstance(faults, list)
    assert any("the disk is full" in str(f) for f in faults)
    assert set(confirmed[-50:]) <= set(kept) <= set(confirmed) | {out["after_ack"]}  # no confirmed event lost
    if mode == "tmpfs":  # space shared by all files: the reserve lets SQLite delete summaries and acked rows
        assert out["dropped"], "summaries are deleted to make room before any event is refused"
        assert set(kept) == set(confirmed[-50:]) | {out["after_ack"]}
        assert out["after_ack"] is not None  # acknowledged records made room for new events again
