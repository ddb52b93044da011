"""Turn pydantic's validation errors into one message per field: path, value, what is wrong, the fix."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

_FIXES = {
    "extra_forbidden": "remove it or check its spelling; unknown keys are rejected",
    "missing": "add it",
    "string_pattern_mismatch": "use the form the pattern shows",
    "literal_error": "use one of the listed values",
    "greater_than_equal": "raise it",
    "less_than_equal": "lower it",
    "too_short": "add entries",
    "union_tag_invalid": "set kind to one of the listed values",
}
_FIELD_FIXES = {
    "sha256": "64 lowercase hex digits; `sha256sum FILE` prints it",
    "memory": "a size such as 300MiB or 2GiB",
    "name": "lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
    "backend": "a backend kind: onnxruntime, openvino, rknn-lite",
    "path": "a path relative to the bundle directory, without '..'",
}


def _value_at(data: Any, loc: tuple[int | str, ...]) -> Any:
    for key in loc:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def describe_validation_error(exc: ValidationError, source: str, data: Any = None) -> str:
    """``source: N problems`` followed by one line per error naming field path, value and fix."""
    lines = [f"{source}: {exc.error_count()} invalid field(s)"]
    for error in exc.errors():
        loc = tuple(k for k in error["loc"] if not (isinstance(k, str) and k in {"image", "text"}))
        path = ".".join(str(k) for k in loc) or "(top level)"
        value = _value_at(data, loc) if data is not None else error.get("input")
        shown = repr(value) if value is not None else "(absent)"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        leaf = next((str(k) for k in reversed(loc) if isinstance(k, str)), "")
        fix = _FIELD_FIXES.get(leaf) or _FIXES.get(error["type"], "")
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {path} = {shown}: {message}" + (f" (fix: {fix})" if fix else ""))
    return "\n".join(lines)
