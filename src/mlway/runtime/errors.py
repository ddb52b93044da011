"""The runtime's errors, each a branch of mlway's one exception tree (``mlway.core.errors``).

    MlwayError
    ├── InputError (400)
    │   ├── ConfigError (400)
    │   │   └── BundleError (400)            a manifest is invalid or a bundle cannot be read
    │   │       └── IntegrityError (400)     an artefact's sha256 or size does not match its manifest
    │   └── NotFoundError (404)              unknown model (from mlway.core)
    ├── DependencyMissingError (exit 3)      a backend's package is not installed (from mlway.core)
    ├── OverloadedError (429)                a model's queue is full: retry later or raise max_queue
    ├── DeadlineExceededError (504)          a request passed its deadline; names the setting
    ├── ModelUnavailableError (503)          no variant of the model is serving right now
    │   └── WorkerCrashedError (503)         the worker died while it held the request
    │       └── QuotaExceededError (503)     the worker was killed for breaching its memory quota
    └── BudgetError (503)                    no room in the device budget for a load or a swap

A server maps ``http_status`` to its response; the CLI maps ``exit_code``.
"""

from __future__ import annotations

from mlway.core.errors import ConfigError, MlwayError


class BundleError(ConfigError):
    """A bundle's manifest is invalid or its directory cannot be read; the message names the field."""


class IntegrityError(BundleError):
    """An artefact does not match the sha256 (or size) its manifest records."""


class OverloadedError(MlwayError):
    """The model already holds as many requests as its quota allows."""

    http_status = 429


class DeadlineExceededError(MlwayError):
    """A request did not finish before its deadline."""

    http_status = 504


class ModelUnavailableError(MlwayError):
    """The model is known but no variant of it is serving (loading, failed or evicted)."""

    http_status = 503


class WorkerCrashedError(ModelUnavailableError):
    """The worker process died while it held the request."""


class QuotaExceededError(WorkerCrashedError):
    """The worker was killed because it breached its memory quota."""


class BudgetError(MlwayError):
    """The device budget has no room for what was asked (a load, a swap)."""

    http_status = 503
