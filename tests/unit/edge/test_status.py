"""status.json: written atomically, read back, stale when the agent died; `mlway edge status` prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlway.core.errors import NotFoundError
from mlway.edge.status import AgentStatus, CameraStatus, StoreStatus, is_stale, read_status, write_status


def sample(state: str = "running", updated: float | None = None) -> AgentStatus:
    now = time.time()
    return AgentStatus(
        device_id="combine-07", pid=4242, state=state, started_wall=now - 60, updated_wall=updated or now,  # type: ignore[arg-type]
        uptime_s=60.0, scheduler="alternate",
        cameras={"auger": CameraStatus(source="usb:0", state="running", fps=4.8, target_fps=5.0, frames_in=300,
                                       inferred=290, skipped=4, dropped=6, restarts=1, last_error="stalled")},
        store=StoreStatus(path="/x/outbox.db", backlog_records=12, backlog_oldest_age_s=30.0, store_bytes=4096,
                          disk_free_bytes=10**9),
        faults=["2026-01-01T00:00:00Z camera auger: stalled"],
    )  # fmt: skip


def test_write_then_read_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_status(tmp_path, sample(state="starting"))
    status = sample()
    write_status(tmp_path, status)
    assert read_status(tmp_path) == status
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_a_missing_status_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no agent status") as info:
        read_status(tmp_path)
    assert "mlway edge run" in (info.value.hint or "")


def test_a_running_status_not_rewritten_for_a_while_is_stale() -> None:
    assert not is_stale(sample())
    assert is_stale(sample(updated=time.time() - 60))
    assert not is_stale(sample(state="stopped", updated=time.time() - 60))


def mlway(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "mlway", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def test_the_cli_prints_a_table_and_json(tmp_path: Path) -> None:
    write_status(tmp_path, sample())
    table = mlway("edge", "status", "--state-dir", str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "combine-07" in table.stdout
    assert "auger" in table.stdout
    assert "backlog 12 record(s)" in table.stdout
    assert "camera auger: stalled" in table.stdout
    as_json = mlway("edge", "status", "--state-dir", str(tmp_path), "--json")
    assert json.loads(as_json.stdout)["cameras"]["auger"]["dropped"] == 6
    missing = mlway("edge", "status", "--state-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "no agent status" in missing.stderr
