"""Checks of user-given values that every layer makes the same way."""

from __future__ import annotations

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
