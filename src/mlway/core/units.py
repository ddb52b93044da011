"""Parsing and formatting of the units users type: durations, byte sizes, lists.

Every parser raises :class:`InputError` naming the value and the accepted form.
"""

from __future__ import annotations

import math
import re

from mlway.core.errors import InputError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s|m|min|h)?\s*$")
_DURATION_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}

_BYTES = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgtp]?i?b?)?\s*$", re.IGNORECASE)
_BYTE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
    "t": 1000**4, "tb": 1000**4, "p": 1000**5, "pb": 1000**5,
    "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2, "gi": 1024**3, "gib": 1024**3,
    "ti": 1024**4, "tib": 1024**4, "pi": 1024**5, "pib": 1024**5,
}  # fmt: skip


def parse_duration(text: str | float, *, what: str = "duration") -> float:
    """Seconds from ``"120s"``, ``"50ms"``, ``"2m"``, ``"1.5h"`` or a bare number of seconds."""
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise InputError(
                f"invalid {what} {text!r}",
                hint="write a number with a unit: 250ms, 1.5s, 2m, 1h (a bare number means seconds)",
            )
        value = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
    if value < 0:
        raise InputError(f"invalid {what} {text!r}: must not be negative")
    return value


def parse_bytes(text: str | int, *, what: str = "size") -> int:
    """Bytes from ``"6GiB"``, ``"512MB"``, ``"1.5G"`` (decimal) or a bare number of bytes."""
    if isinstance(text, int):
        return text
    match = _BYTES.match(text)
    if not match:
        raise InputError(f"invalid {what} {text!r}", hint="write a number with a unit: 512MiB, 6GiB, 8GB, 1.5G")
    unit = (match.group(2) or "").lower()
    return int(float(match.group(1)) * _BYTE_UNITS[unit])


def parse_int_list(text: str, *, what: str = "list") -> list[int]:
    """``"10,50,100"`` -> ``[10, 50, 100]``; every item must be a positive integer."""
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise InputError(f"invalid {what} {text!r}: empty", hint="write positive integers: 10,50,100")
    try:
        values = [int(item) for item in items]
    except ValueError as exc:
        raise InputError(
            f"invalid {what} {text!r}", hint="write positive integers separated by commas: 10,50,100"
        ) from exc
    if any(v <= 0 for v in values):
        raise InputError(f"invalid {what} {text!r}: every value must be positive")
    return values


def format_duration(seconds: float) -> str:
    """A short human form: ``0.0123`` -> ``"12.3 ms"``."""
    if math.isnan(seconds):
        return "-"
    magnitude = abs(seconds)
    if magnitude < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if magnitude < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    if magnitude < 120:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def format_bytes(size: float) -> str:
    """A short binary form: ``6442450944`` -> ``"6.00 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} TiB"  # pragma: no cover
