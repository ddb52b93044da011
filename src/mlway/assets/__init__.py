"""Files shipped inside the mlway package: the bundled default models.

    from mlway.assets import bundled_model_path
    bundle = mlway.runtime.load_bundle(bundled_model_path("harvest-cam"))

``harvest-cam``: the per-frame classifier of combine cameras (idle, harvesting, unloading,
unloading_failure) trained by ``mlway curate train`` on simulated shifts; its README.md holds the
exact commands that reproduce it. Dependency-free, so the edge agent and the CLI may import it.
"""

from __future__ import annotations

from pathlib import Path

from mlway.core.errors import NotFoundError

_ROOT = Path(__file__).resolve().parent


def bundled_models() -> list[str]:
    """Names of the bundled models."""
    return sorted(p.name for p in _ROOT.iterdir() if p.is_dir() and (p / "mlway-bundle.yaml").is_file())


def bundled_model_path(name: str = "harvest-cam") -> Path:
    """The directory of a bundled model (a runtime bundle: mlway-bundle.yaml and its ONNX files)."""
    path = _ROOT / name
    if not (path / "mlway-bundle.yaml").is_file():
        raise NotFoundError(
            f"no bundled model {name!r}", hint=f"bundled models: {', '.join(bundled_models()) or 'none'}"
        )
    return path


__all__ = ["bundled_model_path", "bundled_models"]
