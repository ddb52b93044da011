"""Load the built-in catalog (YAML package data) merged with the user's catalog.

The user catalog is a directory: ``$MLWAY_PLAN_CATALOG`` if set, else ``~/.config/mlway/plan``.
It may hold ``models.yaml``, ``gpus.yaml`` and ``presets.yaml`` in the built-in format; an entry
whose name exists updates that entry field by field (so a user can change only a price), a new
name adds one. Calibration profiles are stored in its ``profiles/`` folder.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from mlway.core.errors import ConfigError, NotFoundError
from mlway.plan.gpus import GpuSpec
from mlway.plan.hfconfig import load_hf_config
from mlway.plan.modelspec import ModelSpec
from mlway.plan.workload import Preset

ENV_VAR = "MLWAY_PLAN_CATALOG"
T = TypeVar("T", bound=BaseModel)


def user_dir() -> Path:
    """The user's catalog directory (it need not exist)."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".config" / "mlway" / "plan"


def _read_yaml(text: str, origin: str, key: str) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}") from exc
    entries = data.get(key, []) if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
        raise ConfigError(f"{origin}: expected a '{key}:' list of mappings, each with a 'name'")
    return entries


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _load(kind: type[T], key: str, directory: Path) -> dict[str, T]:
    builtin = resources.files("mlway.plan.catalog").joinpath(f"{key}.yaml").read_text(encoding="utf-8")
    raw = {e["name"]: e for e in _read_yaml(builtin, f"built-in {key}.yaml", key)}
    user_file = directory / f"{key}.yaml"
    if user_file.is_file():
        for entry in _read_yaml(user_file.read_text(encoding="utf-8"), str(user_file), key):
            raw[entry["name"]] = _merge(raw.get(entry["name"], {}), entry)
    out: dict[str, T] = {}
    for name, entry in raw.items():
        try:
            out[name] = kind.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(f"catalog {key} entry {name!r} is invalid: {exc}") from exc
    return out


def _closest(name: str, names: list[str]) -> list[str]:
    return difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.4)


@dataclass
class Catalog:
    """Models, GPUs and presets by name, with lookups that suggest the closest names."""

    models: dict[str, ModelSpec] = field(default_factory=dict)
    gpus: dict[str, GpuSpec] = field(default_factory=dict)
    presets: dict[str, Preset] = field(default_factory=dict)
    directory: Path = field(default_factory=user_dir)

    def model(self, name: str) -> ModelSpec:
        """A catalog model by name, alias or Hugging Face id, or a config.json file/directory."""
        key = name.strip().lower()
        for spec in self.models.values():
            if key in (n.lower() for n in spec.names()):
                return spec
        path = Path(name).expanduser()
        if path.exists() or name.endswith(".json"):
            return load_hf_config(path)
        names = [n for spec in self.models.values() for n in (spec.name, *spec.aliases)]
        close = _closest(key, names)
        raise NotFoundError(
            f"unknown model {name!r}" + (f"; closest: {', '.join(close)}" if close else ""),
            hint="see `mlway plan catalog models`, or give the path of a config.json",
        )

    def gpu(self, name: str) -> GpuSpec:
        key = name.strip().lower()
        for spec in self.gpus.values():
            if key in (n.lower() for n in spec.names()):
                return spec
        close = _closest(key, [n for spec in self.gpus.values() for n in spec.names()])
        raise NotFoundError(
            f"unknown GPU {name!r}" + (f"; closest: {', '.join(close)}" if close else ""),
            hint="see `mlway plan catalog gpus`, or add it to your user catalog (docs/plan.md)",
        )

    def preset(self, name: str) -> Preset:
        key = name.strip().lower()
        if key in self.presets:
            return self.presets[key]
        close = _closest(key, list(self.presets))
        raise NotFoundError(
            f"unknown preset {name!r}" + (f"; closest: {', '.join(close)}" if close else ""),
            hint=f"one of: {', '.join(self.presets)}",
        )


def load_catalog(directory: Path | None = None) -> Catalog:
    """The built-in catalog merged with the user catalog in ``directory`` (default: :func:`user_dir`)."""
    folder = directory or user_dir()
    return Catalog(
        models=_load(ModelSpec, "models", folder),
        gpus=_load(GpuSpec, "gpus", folder),
        presets=_load(Preset, "presets", folder),
        directory=folder,
    )
