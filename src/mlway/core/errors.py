"""The one exception tree of mlway.

    MlwayError                 exit 1, HTTP 500
    ├── InputError             exit 2, HTTP 400   bad argument, file or payload; the message names the fix
    │   ├── ConfigError        exit 2, HTTP 400   a config value is invalid
    │   └── NotFoundError      exit 2, HTTP 404   a named thing (model, GPU, file) does not exist
    ├── DependencyMissingError exit 3             an optional extra is not installed; names the pip command
    └── TargetError            exit 4, HTTP 502   a remote server cannot be reached or misbehaves as a whole

Third-party errors are translated at the boundary and chained (``raise X from exc``).
"""

from __future__ import annotations


class MlwayError(Exception):
    """Base of every error mlway raises on purpose."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class InputError(MlwayError):
    """The user gave something invalid: an argument, a file, a request body."""

    exit_code = 2
    http_status = 400


class ConfigError(InputError):
    """A configuration value is invalid; the message names the field and the fix."""


class NotFoundError(InputError):
    """A named thing does not exist; the message lists the closest names."""

    http_status = 404


class DependencyMissingError(MlwayError):
    """An optional dependency is missing; the message gives the install command."""

    exit_code = 3

    @classmethod
    def for_extra(cls, module: str, extra: str) -> DependencyMissingError:
        return cls(
            f"the optional dependency {module!r} is not installed",
            hint=f"install it with: pip install 'mlway[{extra}]'",
        )


class TargetError(MlwayError):
    """A remote server could not be reached or is unusable as a whole."""

    exit_code = 4
    http_status = 502
