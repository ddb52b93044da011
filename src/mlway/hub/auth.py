"""Device authentication: ``Authorization: Bearer <token>`` -> the device id; a device writes only as itself."""

from __future__ import annotations

from mlway.hub.errors import ForbiddenError, UnauthorizedError
from mlway.hub.store import HubStore


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer ...`` header; 401 with the fix when missing or malformed."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthorizedError(
            "missing device token",
            hint="send 'Authorization: Bearer <token>' with the token of `mlway hub device add NAME`",
        )
    return token.strip()


def authenticate(store: HubStore, header: str | None) -> str:
    """The device id the request's token belongs to."""
    return store.authenticate(bearer_token(header))


def check_same_device(token_device: str, body_device: object) -> None:
    """403 when a body's ``device_id`` is not the token's device."""
    if isinstance(body_device, str) and body_device != token_device:
        raise ForbiddenError(
            f"this token belongs to device {token_device!r}, not {body_device!r}: a device writes only as itself",
            hint=f"send device_id {token_device!r}, or use {body_device!r}'s own token",
        )
