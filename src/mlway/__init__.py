"""mlway: run ML in production from a cloud GPU to a board on a combine harvester."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlway")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
