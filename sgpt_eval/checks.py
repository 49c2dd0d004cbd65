"""Checks of user-given values that every layer makes the same way."""

from __future__ import annotations

import dataclasses
import math

from .errors import SgptEvalError


def at_least_one(values: dict[str, int | None]) -> None:
    """Refuse counts and sizes below 1, by their flag, before anything runs: a depth of 0 would
    score every query 0 and a negative one fail deep inside the search. None means "the default"."""
    for name, value in values.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if not isinstance(value, int) or isinstance(value, bool):
            raise SgptEvalError(f"{flag} {value!r}: must be a whole number, at least 1")
        if value < 1:
            raise SgptEvalError(f"{flag} {value}: must be at least 1")


# What a value of each declared type must be, and how an error says so. A float field takes a
# whole number too, stored as a float, so that `k1 = 1` and `--k1 1` are one configuration.
_EXPECTED = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "a string",
             "tuple[str, ...]": "a list of strings"}


def typed_fields(options) -> None:
    """Check every field of the options dataclass `options` against its declared type and choices,
    and make it canonical (whole numbers of float fields as floats, lists as tuples), before anything
    runs: a TOML `specb = "no"` would otherwise be a true value. Errors name the field's flag, the
    value given and what is expected."""
    for spec in dataclasses.fields(options):
        value = getattr(options, spec.name)
        kind = str(spec.type).removesuffix(" | None")
        if value is None and str(spec.type).endswith(" | None"):
            continue
        flag = spec.metadata.get("flag", "--" + spec.name.replace("_", "-"))
        canonical = _typed(value, kind)
        if canonical is _WRONG:
            raise SgptEvalError(f"{flag} {value!r}: expected {_EXPECTED[kind]}")
        choices = spec.metadata.get("choices")
        if choices and canonical not in choices:
            raise SgptEvalError(f"{flag} {value}: choose from {', '.join(map(str, choices))}")
        if canonical is not value:
            object.__setattr__(options, spec.name, canonical)


_WRONG = object()


def _typed(value, kind: str):
    """`value` as a `kind`, or _WRONG; booleans are never numbers, numbers never booleans."""
    if kind == "bool":
        return value if isinstance(value, bool) else _WRONG
    if isinstance(value, bool):
        return _WRONG
    if kind == "int":
        return value if isinstance(value, int) else _WRONG
    if kind == "float":
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else _WRONG
    if kind == "str":
        return value if isinstance(value, str) else _WRONG
    if kind == "tuple[str, ...]":
        return tuple(value) if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value) else _WRONG
    raise TypeError(f"no check for fields of type {kind}")
