"""Rebuild an error from a worker's :class:`Failure` as the matching class of mlway's tree."""

from __future__ import annotations

from mlway.core.errors import ConfigError, DependencyMissingError, InputError, MlwayError, NotFoundError
from mlway.runtime.errors import BundleError, DeadlineExceededError, IntegrityError, QuotaExceededError
from mlway.runtime.messages import Failure

_BY_NAME: dict[str, type[MlwayError]] = {
    cls.__name__: cls
    for cls in (
        ConfigError,
        DependencyMissingError,
        InputError,
        NotFoundError,
        BundleError,
        IntegrityError,
        DeadlineExceededError,
    )
}


_BY_NAME["InvalidArgument"] = InputError  # onnxruntime's class for bad inputs


def error_from(failure: Failure, context: str) -> MlwayError:
    """An mlway error for ``failure``; unknown classes become ``MlwayError`` with the original class name."""
    if failure.out_of_memory:
        return QuotaExceededError(f"{context}: out of memory ({failure.message})", hint=failure.hint)
    cls = _BY_NAME.get(failure.kind)
    if cls is None:
        return MlwayError(f"{context}: {failure.kind}: {failure.message}", hint=failure.hint)
    return cls(f"{context}: {failure.message}", hint=failure.hint)
