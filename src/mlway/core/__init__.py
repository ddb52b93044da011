"""Dependency-light pieces shared by every mlway product."""

from mlway.core.errors import (
    ConfigError,
    DependencyMissingError,
    InputError,
    MlwayError,
    NotFoundError,
    TargetError,
)
from mlway.core.model import StrictModel
from mlway.core.units import (
    format_bytes,
    format_duration,
    parse_bytes,
    parse_duration,
    parse_int_list,
)

__all__ = [
    "ConfigError",
    "DependencyMissingError",
    "InputError",
    "MlwayError",
    "NotFoundError",
    "StrictModel",
    "TargetError",
    "format_bytes",
    "format_duration",
    "parse_bytes",
    "parse_duration",
    "parse_int_list",
]
