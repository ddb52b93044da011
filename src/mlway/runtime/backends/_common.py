"""Helpers the backends share: option checking, file sizes, the warm-up inputs."""

from __future__ import annotations

from collections.abc import Mapping

from mlway.core.errors import ConfigError
from mlway.runtime.backend import LoadSpec, OptionValue

MIB = 1024**2


def check_options(spec: LoadSpec, kind: str, known: Mapping[str, str]) -> dict[str, OptionValue]:
    """The variant's options, or ``ConfigError`` naming an unknown one and listing the valid ones."""
    unknown = sorted(set(spec.options) - set(known))
    if unknown:
        valid = "; ".join(f"{name}: {meaning}" for name, meaning in known.items())
        raise ConfigError(
            f"variant {spec.variant!r} of {spec.model!r}: unknown {kind} option(s) {unknown}",
            hint=f"valid options are {valid}",
        )
    return dict(spec.options)


def files_bytes(spec: LoadSpec) -> int:
    total = 0
    for path in spec.files:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total


def check_names(spec: LoadSpec, kind: str, graph_inputs: list[str], graph_outputs: list[str]) -> None:
    """Raise ``ConfigError`` if the manifest's tensor names are not the model graph's."""
    for what, declared, actual in (
        ("inputs", [s.name for s in spec.inputs], graph_inputs),
        ("outputs", [s.name for s in spec.outputs], graph_outputs),
    ):
        if sorted(declared) != sorted(actual):
            raise ConfigError(
                f"variant {spec.variant!r} of {spec.model!r}: the manifest declares {what} {declared} "
                f"but the {kind} model has {actual}",
                hint=f"make the manifest's {what} match the model graph's names",
            )
