"""The hub's refusals beyond the core tree: each carries the HTTP status it maps to.

MlwayError (core)
├── UnauthorizedError      HTTP 401   no token, an unknown token or a revoked device
├── ForbiddenError         HTTP 403   a device writing as another device
└── InputError (core)      HTTP 400
    ├── PayloadTooLargeError   HTTP 413   body or batch over the limit
    ├── UnsupportedEncodingError HTTP 415 a Content-Encoding other than gzip or identity
    └── InvalidBodyError   HTTP 422   a body that does not match the wire schema; ``fields`` names them
"""

from __future__ import annotations

from dataclasses import dataclass

from mlway.core.errors import InputError, MlwayError


class UnauthorizedError(MlwayError):
    http_status = 401


class ForbiddenError(MlwayError):
    http_status = 403


class PayloadTooLargeError(InputError):
    http_status = 413


class UnsupportedEncodingError(InputError):
    http_status = 415


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: its dotted path in the body (``records.3.confidence``) and what is wrong."""

    field: str
    message: str


class InvalidBodyError(InputError):
    http_status = 422

    def __init__(self, message: str, *, fields: list[FieldProblem], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.fields = fields
