"""``mlway hub`` commands as a user runs them: tokens on stdout, tables or JSON, and clear errors at start."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import requests

from mlway.hub.testing import RunningHub, event_record, ingest_body


def mlway(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "mlway", "hub", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_device_add_prints_only_the_token_on_stdout_and_list_and_revoke_follow(tmp_path: Path) -> None:
    data = str(tmp_path / "hub.db")
    added = mlway("device", "add", "combine-07", "--data", data)
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert len(token.splitlines()) == 1
    assert len(token) >= 40
    assert "shown once" in added.stderr
    again = mlway("device", "add", "combine-07", "--data", data)
    assert again.returncode == 2
    assert "mlway hub device revoke combine-07" in again.stderr
    listed = json.loads(mlway("device", "list", "--data", data, "--json").stdout)
    assert [(d["device_id"], d["revoked_wall"]) for d in listed] == [("combine-07", None)]
    assert mlway("device", "revoke", "combine-07", "--data", data).returncode == 0
    assert "revoked" in mlway("device", "list", "--data", data).stdout


def test_events_and_fleet_print_what_a_running_hub_received(hub: RunningHub) -> None:
    token = hub.add_device("combine-07")
    body = ingest_body("combine-07", [event_record(1, event_id="ev-1", label="failure")])
    requests.post(hub.url + "/v1/ingest", data=body, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    events = json.loads(mlway("events", "--data", str(hub.data), "--json").stdout)
    assert [(e["event_id"], e["label"]) for e in events] == [("ev-1", "failure")]
    table = mlway("events", "--data", str(hub.data), "--label", "failure").stdout
    assert "ev-1" in table
    fleet = json.loads(mlway("fleet", "--data", str(hub.data), "--json").stdout)
    assert [(d["device_id"], d["records"]) for d in fleet["devices"]] == [("combine-07", 1)]


def test_a_data_path_in_a_missing_directory_is_named_with_the_fix(tmp_path: Path) -> None:
    result = mlway("start", "--data", str(tmp_path / "nowhere" / "hub.db"), "--port", "0")
    assert result.returncode == 2
    assert "nowhere does not exist" in result.stderr
    assert "mkdir -p" in result.stderr


def test_an_unwritable_data_path_is_refused_at_start(tmp_path: Path) -> None:
    result = mlway("start", "--data", "/proc/hub.db", "--port", "0")
    assert result.returncode == 2
    assert "cannot open the hub database /proc/hub.db" in result.stderr
    assert "writable" in result.stderr


def test_a_port_in_use_is_named_at_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = mlway("start", "--data", str(tmp_path / "hub.db"), "--port", str(port))
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "--port" in result.stderr


def test_reading_a_missing_database_says_which_path(tmp_path: Path) -> None:
    result = mlway("events", "--data", str(tmp_path / "absent.db"))
    assert result.returncode == 2
    assert "no hub database at" in result.stderr
