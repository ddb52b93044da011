"""The agent's one typed config file (``edge.yaml``): device, model, cameras, scheduling, events, alerts, hub.

    device_id: combine-07
    state_dir: /var/lib/mlway-edge          # outbox.db, status.json (relative paths: to this file)
    model: {name: harvest-cam, variant: auto, threads: 2}
    cameras:
      - {name: header, source: rtsp://10.0.0.11/stream1, fps: 5}
      - {name: auger, source: usb:0, fps: 5}
    scheduler: {policy: alternate}          # alternate | round-robin | per-camera | auto
    smoothing: {window_s: 2, enter: 0.6, exit: 0.4, min_duration_s: 2}   # unset: the bundle's smoothing.json
    urgent: [unloading_failure]
    alerts: {command: [/usr/local/bin/buzzer, "--on"], webhook: http://127.0.0.1:9000/alert, log: true}
    hub: {url: https://hub.example:8700, token: ..., batch_records: 200}
    store: {max_bytes: 1GiB}

``load_config`` rejects a bad file with one line per problem (field path, value, fix); ``check_config``
then checks what the schema cannot (the model exists and names the urgent labels, files exist, the
state directory is writable), so an agent never starts half-configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import Field, StringConstraints, ValidationError, model_validator

from mlway.core.errors import ConfigError
from mlway.core.model import StrictModel
from mlway.core.smoothing import SmoothingConfig
from mlway.core.wire import DeviceId
from mlway.edge.uploader import UplinkConfig
from mlway.runtime.manifest import ByteSize
from mlway.runtime.validation import describe_validation_error

CameraName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")]
Policy = Literal["alternate", "round-robin", "per-camera", "auto"]


class ModelConfig(StrictModel):
    """Which model runs and how."""

    name: str = Field(
        default="harvest-cam",
        min_length=1,
        max_length=400,
        description="A bundled model's name (`harvest-cam`) or the path of a bundle directory.",
    )
    variant: str = Field(
        default="auto",
        min_length=1,
        max_length=63,
        description="A variant name, or 'auto': the bundle's first variant that fits this device's memory and CPU.",
    )
    threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Intra-op threads; 0 = every core of this device (with scheduler.policy auto and several "
        "cameras, split between one inference slot per camera when there are at least as many cores).",
    )
    decode_resize: bool = Field(
        default=True,
        description="Scale video frames to the model's input size while decoding them (FFmpeg swscale, area filter, "
        "one pass from YUV) instead of with OpenCV afterwards: same stretch resize, several times cheaper.",
    )
    isolation: Literal["in-process", "worker"] = Field(
        default="in-process",
        description="'in-process': the engine runs in the agent (fastest); 'worker': in a runtime worker process "
        "under the bundle's quota (a crashing engine is restarted, the agent keeps running).",
    )


class CameraConfig(StrictModel):
    """One camera (or file, or simulated stream)."""

    name: CameraName = Field(description="Camera name, the `source` of its events, e.g. 'auger'.")
    source: str = Field(
        min_length=1,
        max_length=2000,
        description="A video file path, rtsp://, http(s)://, tcp:// or udp:// URL, usb:N or /dev/videoN, or "
        "sim://MACHINE/CAMERA?hours=0.05&seed=7&speed=1 (the simulator's live stream).",
    )
    fps: float | None = Field(
        default=None, gt=0, le=120, description="Frames per second to infer; more are skipped. None: all it can."
    )
    pace: Literal["realtime", "fast"] = Field(
        default="realtime",
        description="Files only: 'realtime' plays at the file's frame rate (frames dropped when behind, as a "
        "camera); 'fast' reads flat out and waits for the model instead of dropping.",
    )
    on_end: Literal["stop", "restart"] = Field(
        default="stop", description="Files and sim streams: at the end, 'stop' this camera or 'restart' it."
    )
    stall_s: float = Field(
        default=10.0, gt=0, le=3600, description="A source that delivers no frame for this long is restarted."
    )
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600, description="Deadline to open a network source.")
    read_timeout_s: float = Field(default=5.0, gt=0, le=600, description="Deadline of one network read.")


class SchedulerConfig(StrictModel):
    """How the cameras share the compute."""

    policy: Policy = Field(
        default="alternate",
        description="'alternate': one inference slot, cameras take strict turns frame by frame (the talk's "
        "board); 'round-robin': one slot, next camera with a frame waiting; 'per-camera': one inference "
        "worker per camera (needs cameras x threads cores); 'auto': per-camera when the cores allow (with "
        "model.threads 0, each camera gets cores / cameras threads), else round-robin.",
    )
    queue: int = Field(
        default=1, ge=1, le=1000, description="Frames kept waiting per camera; when behind, the oldest is dropped."
    )
    max_batch: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Frames already waiting (next by the policy) that one inference call may take together; "
        "never waits for more. 1 = one frame per call.",
    )


class AlertsConfig(StrictModel):
    """Local actions fired by urgent events, with or without a link."""

    command: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="A program and its arguments, run per urgent event start; the event is on stdin as JSON "
        "and in MLWAY_EVENT_* environment variables.",
    )
    webhook: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        max_length=2000,
        description="An HTTP endpoint on the device (e.g. http://127.0.0.1:9000/alert) POSTed the event as JSON.",
    )
    log: bool = Field(default=True, description="Log a warning line per urgent event.")
    timeout_s: float = Field(default=2.0, gt=0, le=60, description="Deadline of one command or webhook call.")
    retries: int = Field(default=2, ge=0, le=10, description="Retries of a failed webhook call.")


class StoreConfig(StrictModel):
    """The local outbox."""

    max_bytes: ByteSize = Field(
        default=1024**3,
        description="Most disk the outbox may use; when full, the oldest summaries go first, then new ones are "
        "refused (events are kept).",
    )


class EdgeConfig(StrictModel):
    """Everything the edge agent runs with (one YAML file)."""

    device_id: DeviceId = Field(description="This device's name, as registered on the hub.")
    state_dir: Path = Field(description="Directory for outbox.db and status.json (created if missing).")
    model: ModelConfig = Field(default_factory=ModelConfig, description="The model.")
    cameras: list[CameraConfig] = Field(min_length=1, max_length=64, description="Cameras, files or streams.")
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig, description="Compute sharing.")
    smoothing: SmoothingConfig | None = Field(
        default=None,
        description="Per-frame scores -> events. Unset: the bundle's smoothing.json (tuned with the model), else the "
        "SmoothingConfig defaults.",
    )
    urgent: list[str] = Field(
        default=["unloading_failure"], max_length=100, description="Labels whose event start fires the alerts."
    )
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Local actions for urgent events.")
    hub: UplinkConfig | None = Field(default=None, description="Where events go; none: events stay in the outbox.")
    store: StoreConfig = Field(default_factory=StoreConfig, description="The outbox's disk budget.")
    summary_every_s: float = Field(default=60.0, gt=0, le=86400, description="Period of summary records.")
    status_every_s: float = Field(default=1.0, gt=0, le=60, description="Period of status.json writes.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"cameras repeat a name: {names}; give each camera a unique name")
        if self.hub is not None and self.hub.device_id != self.device_id:
            raise ValueError(
                f"hub.device_id {self.hub.device_id!r} differs from device_id {self.device_id!r}; "
                "leave hub.device_id out (it defaults to device_id)"
            )
        return self

    @property
    def outbox_path(self) -> Path:
        return self.state_dir / "outbox.db"

    @property
    def status_path(self) -> Path:
        return self.state_dir / "status.json"


def parse_config(data: Any, *, source: str = "config", base: Path | None = None) -> EdgeConfig:
    """Validate a config mapping; relative paths are taken relative to ``base``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must hold a mapping of fields, not {type(data).__name__}",
                          hint="start from the example in `mlway edge check --help`")  # fmt: skip
    data = dict(data)
    hub = data.get("hub")
    if isinstance(hub, dict) and "device_id" not in hub and "device_id" in data:
        data["hub"] = {**hub, "device_id": data["device_id"]}
    try:
        config = EdgeConfig.model_validate(data)
    except ValidationError as exc:
        hint = "fix the fields above; the agent does not start with a partly valid config"
        raise ConfigError(describe_validation_error(exc, source, data), hint=hint) from exc
    if base is not None:
        config = _resolved(config, base)
    return config


def _resolved(config: EdgeConfig, base: Path) -> EdgeConfig:
    state = config.state_dir if config.state_dir.is_absolute() else base / config.state_dir
    cameras = []
    for cam in config.cameras:
        source = cam.source
        if "://" not in source and not source.startswith(("usb:", "/dev/")) and not Path(source).is_absolute():
            source = str(base / source)
        cameras.append(cam.model_copy(update={"source": source}))
    model = config.model
    name = Path(model.name)
    if ("/" in model.name or model.name.startswith(".")) and not name.is_absolute():
        model = model.model_copy(update={"name": str(base / name)})
    return config.model_copy(update={"state_dir": state, "cameras": cameras, "model": model})


def load_config(path: str | os.PathLike[str]) -> EdgeConfig:
    """Read and validate ``edge.yaml``; errors name the field path, the value and the fix."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config {file}: {exc}", hint="give --config the path of edge.yaml") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    return parse_config(data, source=str(file), base=file.resolve().parent)
