"""`mlway sim` as a user runs it: the real CLI process, its files, output and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def env() -> dict[str, str]:
    return os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}


def mlway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlway", "sim", *args], capture_output=True, text=True, timeout=300,
                          env=env, check=False)  # fmt: skip


def test_shift_writes_files_and_prints_a_summary(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "shift"
    done = mlway(env, "shift", "--machines", "1", "--hours", "0.003", "--seed", "7", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    assert "x real time" in done.stdout
    assert (out / "manifest.json").is_file()
    assert (out / "video" / "combine-01_header.mp4").stat().st_size > 1000


def test_json_prints_the_manifest(env: dict[str, str], tmp_path: Path) -> None:
    done = mlway(env, "shift", "--machines", "1", "--hours", "0.002", "--size", "160x120", "--fps", "2",
                 "--out", str(tmp_path / "s"), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["size"] == [160, 120]
    assert manifest["frames_per_camera"] == 14


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--size", "321x240"], "--size"),
        (["--size", "big"], "--size"),
        (["--fps", "0"], "--fps"),
        (["--hours", "0"], "--hours"),
        (["--machines", "100"], "--machines"),
        (["--codec", "vp9"], "--codec"),
        (["--failure-rate", "2"], "--failure-rate"),
    ],
)
def test_invalid_arguments_exit_2_naming_the_option(
    env: dict[str, str], tmp_path: Path, args: list[str], named: str
) -> None:
    done = mlway(env, "shift", "--out", str(tmp_path / "s"), *args)
    assert done.returncode == 2
    assert named in done.stderr
    assert "hint:" in done.stderr
    assert not (tmp_path / "s").exists()


def test_unwritable_and_non_empty_out_are_refused(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    done = mlway(env, "shift", "--hours", "0.001", "--out", str(tmp_path / "a-file" / "shift"))
    assert done.returncode == 2
    assert "cannot write to --out" in done.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("keep me")
    done = mlway(env, "shift", "--hours", "0.001", "--out", str(tmp_path / "full"))
    assert done.returncode == 2
    assert "--overwrite" in done.stderr
    assert (tmp_path / "full" / "notes.txt").read_text() == "keep me"


def test_preview_writes_a_contact_sheet(env: dict[str, str], tmp_path: Path) -> None:
    png = tmp_path / "sheet.png"
    done = mlway(env, "preview", "--out", str(png), "--per-row", "2", "--machines", "2", "--hours", "0.5")
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_preview_from_a_written_shift_decodes_its_video(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "shift"
    assert mlway(env, "shift", "--machines", "1", "--hours", "0.002", "--out", str(out)).returncode == 0
    done = mlway(env, "preview", "--from", str(out), "--out", str(tmp_path / "p.png"), "--per-row", "1")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.png").is_file()
    missing = mlway(env, "preview", "--from", str(tmp_path / "nothing"), "--out", str(tmp_path / "q.png"))
    assert missing.returncode == 2
    assert "no manifest" in missing.stderr
