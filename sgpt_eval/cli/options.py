"""Command-line flags made from the settings dataclasses (`ModelOptions`, `RunSettings`), so each
setting is declared once for the CLI and the TOML config; and the options every command shares."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable

from .. import folders
from ..evaluation.pipeline import Outcome

_TYPES = {"int": int, "float": float, "str": str}


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", help=f"models, embeddings, indexes and scores (default: ${folders.CACHE_ENV} "
                                            "or ~/.cache/sgpt_eval)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def add_fields(group, cls, names: Iterable[str], defaults: dict | None = None) -> None:
    """One flag per named field of the dataclass `cls`, typed, with its help text and choices."""
    defaults = defaults or {}
    for spec in dataclasses.fields(cls):
        if spec.name not in names:
            continue
        meta = spec.metadata
        flags = [meta.get("flag", "--" + spec.name.replace("_", "-")), *meta.get("aliases", ())]
        default = defaults.get(spec.name, None if spec.default is dataclasses.MISSING else spec.default)
        kind = str(spec.type).replace(" | None", "")
        keywords: dict = {"dest": spec.name, "default": default, "help": meta["help"]}
        if kind == "bool" and str(spec.type) == "bool | None":
            keywords["action"] = argparse.BooleanOptionalAction
        elif kind == "bool":
            keywords["action"] = "store_false" if default else "store_true"
        else:
            keywords.update(type=_TYPES[kind], choices=meta.get("choices"))
        group.add_argument(*flags, **keywords)


def values_of(args: argparse.Namespace, cls, names: Iterable[str]) -> dict:
    """The parsed values of the named fields of `cls`."""
    return {spec.name: getattr(args, spec.name) for spec in dataclasses.fields(cls) if spec.name in names}


def print_outcome(outcome: Outcome) -> None:
    identity = outcome.report.identity
    note = "\t(already measured)" if outcome.skipped else ""
    print(f"{identity.dataset}\t{identity.label()}\t{outcome.report.main_metric}={outcome.report.main_score:.4f}"
          f"\t{outcome.path}{note}")
