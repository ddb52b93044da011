"""Everything about a config that the schema cannot see, checked before the agent starts anything.

``preflight(config)`` finds the bundle, picks the variant, checks the labels the config names against
the model's, the sources that are files, the state directory and the scheduler's core needs. It
raises one ``ConfigError`` listing every problem with its fix, so a device never starts half-configured.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from mlway.core.errors import ConfigError, MlwayError
from mlway.core.smoothing import SmoothingConfig
from mlway.edge.config import EdgeConfig
from mlway.edge.inference import VariantPick, find_bundle, pick_variant
from mlway.edge.preprocess import ImagePreprocessor
from mlway.edge.sources import NETWORK
from mlway.edge.sources.stream import usb_device
from mlway.runtime import Bundle, ImagePreprocessing
from mlway.runtime.limits import available_cpus

SMOOTHING_FILE = "smoothing.json"


@dataclass(frozen=True)
class Preflight:
    bundle: Bundle
    pick: VariantPick
    policy: str
    """The scheduler policy after resolving 'auto'."""
    smoothing: SmoothingConfig
    smoothing_from: str
    """'config', the bundle's 'smoothing.json', or 'defaults'."""


def smoothing_of(config: EdgeConfig, bundle: Bundle) -> tuple[SmoothingConfig, str]:
    """The config's smoothing, else the bundle's smoothing.json (tuned with the model), else the defaults."""
    if config.smoothing is not None:
        return config.smoothing, "config"
    path = bundle.directory / SMOOTHING_FILE
    if not path.is_file():
        return SmoothingConfig(), "defaults"
    try:
        return SmoothingConfig.model_validate(json.loads(path.read_text(encoding="utf-8"))), str(path)
    except (OSError, ValueError, ValidationError) as exc:
        raise ConfigError(f"{path} is not a valid smoothing config: {str(exc).splitlines()[0]}",
                          hint="fix or delete the file, or set smoothing in the agent's config") from exc  # fmt: skip


def required_fps(config: EdgeConfig) -> float | None:
    """Frames/s the cameras ask for together (None if any camera takes all it can get)."""
    rates = [c.fps for c in config.cameras]
    return None if any(r is None for r in rates) else sum(r for r in rates if r is not None)


def resolve_policy(config: EdgeConfig, threads: int, cores: int) -> str:
    """'auto' -> per-camera when every camera can have ``threads`` cores of its own, else round-robin.

    (``preflight`` gives each camera ``cores // cameras`` threads when ``model.threads`` is 0, so 'auto'
    with several cameras and at least as many cores is per-camera.)"""
    policy = config.scheduler.policy
    need = len(config.cameras) * threads
    if policy == "auto":
        return "per-camera" if need <= cores and len(config.cameras) > 1 else "round-robin"
    if policy == "per-camera" and need > cores:
        raise ConfigError(
            f"scheduler.policy per-camera needs {len(config.cameras)} camera(s) x {threads} thread(s) = {need} cores; "
            f"this device has {cores}",
            hint="use policy alternate or round-robin (one inference slot), or lower model.threads",
        )
    return policy


def _state_dir_problem(state_dir: Path) -> str | None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"state_dir {str(state_dir)!r} cannot be created: {exc.strerror} (fix: give a writable directory)"
    if not os.access(state_dir, os.W_OK):
        return f"state_dir {str(state_dir)!r} is not writable (fix: give a writable directory)"
    return None


def _label_problems(config: EdgeConfig, bundle: Bundle, smoothing: SmoothingConfig) -> list[str]:
    labels = bundle.manifest.labels or []
    fix = f"(fix: use labels among {labels})"
    problems = [f"urgent: {x!r} is not a label of {bundle.name!r} {fix}" for x in config.urgent if x not in labels]
    named = set(smoothing.background) | set(smoothing.labels)
    problems += [f"smoothing: names {x!r}, not a label of {bundle.name!r} {fix}" for x in sorted(named - set(labels))]
    return problems


def _source_problems(config: EdgeConfig) -> list[str]:
    problems = []
    for index, camera in enumerate(config.cameras):
        url = camera.source
        if url.startswith(("sim://", *NETWORK)) or usb_device(url) is not None:
            continue
        if not Path(url.removeprefix("file://")).is_file():
            problems.append(f"cameras.{index}.source = {url!r}: no such file (fix: give a video file, a camera URL, "
                            "usb:N or sim://...)")  # fmt: skip
    return problems


def preflight(config: EdgeConfig, *, memory: int | None = None) -> Preflight:
    """Check what the schema cannot; raise one ConfigError naming every problem and its fix."""
    problems: list[str] = []
    cores = len(available_cpus())
    model, needed = config.model, required_fps(config)
    if config.scheduler.policy == "auto" and model.threads == 0 and 1 < len(config.cameras) <= cores:
        # every core to the model: one slot per camera with its share of the cores, each slot keeping up
        # with its own camera
        model = model.model_copy(update={"threads": cores // len(config.cameras)})
        needed = None if needed is None else max(c.fps or 0.0 for c in config.cameras)
    try:
        bundle = find_bundle(config.model.name)
        pick = pick_variant(bundle, model, required_fps=needed, memory=memory)
    except MlwayError as exc:
        raise ConfigError(f"model: {exc.message}", hint=exc.hint) from exc
    smoothing, smoothing_from = smoothing_of(config, bundle)
    problems += _label_problems(config, bundle, smoothing)
    spec = bundle.manifest.preprocessing
    inputs = bundle.manifest.input_specs(pick.variant)
    if spec is None or isinstance(spec, ImagePreprocessing):
        image = spec or ImagePreprocessing(input=inputs[0].name)
        tensor = next((t for t in inputs if t.name == image.input), None)
        try:
            if tensor is None:
                raise ConfigError(f"preprocessing.input {image.input!r} is not an input")
            ImagePreprocessor(image, tensor)
        except MlwayError as exc:
            problems.append(f"model: {bundle.name!r} cannot take camera frames: {exc.message}")
    else:
        problems.append(f"model: {bundle.name!r} takes text, not images (fix: give an image classifier bundle)")
    problems += _source_problems(config)
    if (why := _state_dir_problem(config.state_dir)) is not None:
        problems.append(why)
    try:
        policy = resolve_policy(config, pick.threads, cores)
    except ConfigError as exc:
        problems.append(f"scheduler.policy: {exc.message} (fix: {exc.hint})")
        policy = "alternate"
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the config:\n  " + "\n  ".join(problems),
                          hint="fix them; the agent does not start with a partly valid config")  # fmt: skip
    return Preflight(bundle, pick, policy, smoothing, smoothing_from)
