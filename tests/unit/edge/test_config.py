"""edge.yaml: defaults, rejected fields with the path and the fix, and the preflight that checks what the schema
cannot (model, labels, files, state dir, cores), every problem at once; `mlway edge check` prints them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlway.core.errors import ConfigError
from mlway.edge import check, inference
from mlway.edge.check import preflight
from mlway.edge.config import load_config, parse_config
from mlway.edge.testing import write_colour_bundle, write_colour_video


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("edge-config")
    write_colour_bundle(root / "colour")
    write_colour_video(root / "auger.mp4", [("black", 1)])
    return root


def base(root: Path, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "device_id": "combine-07",
        "state_dir": str(root / "state"),
        "model": {"name": str(root / "colour")},
        "cameras": [{"name": "auger", "source": str(root / "auger.mp4")}],
    }
    return data | changes


def test_a_minimal_config_gets_the_documented_defaults(assets: Path) -> None:
    config = parse_config(base(assets))
    assert config.scheduler.policy == "alternate"
    assert config.scheduler.queue == 1
    assert config.urgent == ["unloading_failure"]
    assert config.alerts.log
    assert config.alerts.command is None
    assert config.hub is None
    assert config.store.max_bytes == 1024**3
    assert config.outbox_path == assets / "state" / "outbox.db"


def test_unknown_and_missing_fields_are_named_with_the_fix(assets: Path) -> None:
    data = base(assets)
    data["camras"] = data.pop("cameras")
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="edge.yaml")
    text = str(info.value)
    assert "edge.yaml: 2 invalid field(s)" in text
    assert "camras" in text
    assert "remove it or check its spelling" in text
    assert "cameras = (absent)" in text
    assert "add it" in text


def test_a_bad_value_names_its_path_and_value(assets: Path) -> None:
    data = base(assets, cameras=[{"name": "auger", "source": "usb:0", "fps": -5}])
    with pytest.raises(ConfigError, match=r"cameras\.0\.fps = -5: Input should be greater than 0"):
        parse_config(data)


def test_cameras_must_have_unique_names(assets: Path) -> None:
    data = base(assets, cameras=[{"name": "auger", "source": "usb:0"}, {"name": "auger", "source": "usb:1"}])
    with pytest.raises(ConfigError, match="cameras repeat a name"):
        parse_config(data)


def test_the_hub_section_takes_the_device_id_and_refuses_another(assets: Path) -> None:
    hub = {"url": "http://127.0.0.1:8700", "token": "t0ken"}
    config = parse_config(base(assets, hub=hub))
    assert config.hub is not None
    assert config.hub.device_id == "combine-07"
    with pytest.raises(ConfigError, match="differs from device_id"):
        parse_config(base(assets, hub=hub | {"device_id": "combine-08"}))


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, assets: Path) -> None:
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "edge.yaml"
    path.write_text(yaml.safe_dump({"device_id": "d1", "state_dir": "state", "model": {"name": "./models/colour"},
                                    "cameras": [{"name": "a", "source": "videos/a.mp4"},
                                                {"name": "b", "source": "rtsp://10.0.0.2/s"}]}))  # fmt: skip
    config = load_config(path)
    assert config.state_dir == tmp_path / "cfg" / "state"
    assert config.model.name == str(tmp_path / "cfg" / "models" / "colour")
    assert [c.source for c in config.cameras] == [str(tmp_path / "cfg" / "videos" / "a.mp4"), "rtsp://10.0.0.2/s"]


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "edge.yaml"
    path.write_text("device_id: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(path)


def test_preflight_lists_every_problem_at_once(assets: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    data = base(assets, state_dir=str(blocker / "state"), urgent=["fire"],
                cameras=[{"name": "auger", "source": str(tmp_path / "missing.mp4")}])  # fmt: skip
    with pytest.raises(ConfigError) as info:
        preflight(parse_config(data))
    text = str(info.value)
    assert "3 problem(s)" in text
    assert "urgent: 'fire' is not a label of 'colour'" in text
    assert "unloading_failure" in text
    assert "cameras.0.source" in text
    assert "no such file" in text
    assert "state_dir" in text
    assert "cannot be created" in text


def test_an_unknown_model_lists_the_bundled_ones(assets: Path) -> None:
    with pytest.raises(ConfigError, match="neither a bundled model nor a bundle directory"):
        preflight(parse_config(base(assets, model={"name": "no-such-model"})))


def test_an_unknown_variant_lists_the_variants(assets: Path) -> None:
    with pytest.raises(ConfigError, match="use 'auto' or one of: fp32"):
        preflight(parse_config(base(assets, model={"name": str(assets / "colour"), "variant": "int4"})))


def test_per_camera_workers_need_a_core_per_camera(assets: Path) -> None:
    cams = [{"name": f"c{i}", "source": "usb:0"} for i in range(os.cpu_count() or 1)] + [
        {"name": "x", "source": "usb:1"}
    ]
    data = base(
        assets, cameras=cams, scheduler={"policy": "per-camera"}, model={"name": str(assets / "colour"), "threads": 1}
    )
    with pytest.raises(ConfigError, match=r"per-camera needs .* cores; this device has") as info:
        preflight(parse_config(data))
    assert "use policy alternate or round-robin" in str(info.value)
    data["scheduler"] = {"policy": "auto"}
    assert preflight(parse_config(data)).policy == "round-robin"


@pytest.mark.parametrize(
    ("cores", "policy", "threads"), [(2, "per-camera", 1), (5, "per-camera", 2), (1, "round-robin", 1)]
)
def test_auto_with_every_core_splits_the_cores_between_one_slot_per_camera(
    assets: Path, monkeypatch: pytest.MonkeyPatch, cores: int, policy: str, threads: int
) -> None:
    monkeypatch.setattr(check, "available_cpus", lambda: list(range(cores)))
    monkeypatch.setattr(inference, "available_cpus", lambda: list(range(cores)))
    cams = [{"name": n, "source": str(assets / "auger.mp4")} for n in ("header", "auger")]
    data = base(assets, cameras=cams, scheduler={"policy": "auto"})  # model.threads left at 0: every core
    plan = preflight(parse_config(data))
    assert (plan.policy, plan.pick.threads) == (policy, threads)
    data["model"] = {"name": str(assets / "colour"), "threads": 2}  # threads asked for: no split
    assert preflight(parse_config(data)).policy == ("per-camera" if cores >= 4 else "round-robin")


def mlway(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "mlway", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip


def test_edge_check_prints_ok_or_the_problems(assets: Path, tmp_path: Path) -> None:
    good = tmp_path / "edge.yaml"
    good.write_text(yaml.safe_dump(base(assets)))
    ok = mlway("edge", "check", "--config", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "ok: device combine-07, 1 camera(s), policy alternate, model colour@1.0.0 fp32" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(base(assets, scheduler={"policy": "fifo"})))
    refused = mlway("edge", "check", "--config", str(bad))
    assert refused.returncode == 2
    assert "scheduler.policy = 'fifo'" in refused.stderr
    assert "alternate" in refused.stderr


def test_unset_smoothing_comes_from_the_bundle_then_the_defaults(assets: Path, tmp_path: Path) -> None:
    plan = preflight(parse_config(base(assets)))
    assert plan.smoothing_from == "defaults"
    assert plan.smoothing.enter == 0.6
    (assets / "colour" / "smoothing.json").write_text('{"enter": 0.55, "exit": 0.35, "background": ["idle"]}')
    try:
        plan = preflight(parse_config(base(assets)))
        assert plan.smoothing_from.endswith("smoothing.json")
        assert (plan.smoothing.enter, plan.smoothing.exit) == (0.55, 0.35)
        mine = preflight(parse_config(base(assets, smoothing={"enter": 0.8})))
        assert (mine.smoothing_from, mine.smoothing.enter) == ("config", 0.8)
        (assets / "colour" / "smoothing.json").write_text('{"enter": 0.2, "exit": 0.5}')
        with pytest.raises(ConfigError, match="is not a valid smoothing config"):
            preflight(parse_config(base(assets)))
    finally:
        (assets / "colour" / "smoothing.json").unlink()
