"""Command-line flags made from the options dataclasses (`ModelOptions`, `RunOptions`), so each
setting is declared once for the CLI and the TOML config; and the options every command shares."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .. import folders
from ..errors import SgptEvalError

if TYPE_CHECKING:
    from ..evaluation.pipeline import Outcome

_TYPES = {"int": int, "float": float, "str": str}


def add_common(parser: argparse.ArgumentParser, threads: bool = False) -> None:
    """--cache-dir, -v/-q, and for the commands that compute, --threads."""
    parser.add_argument("--cache-dir", help=f"models, embeddings, indexes and scores (default: ${folders.CACHE_ENV} "
                                            "or ~/.cache/sgpt_eval)")
    if threads:
        parser.add_argument("--threads", type=int, metavar="N", help="CPU threads of torch (encoding, scoring), "
                                                                     "faiss and numpy's BLAS (search) (default: about one per core)")
    add_verbosity(parser)


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """-v and -q, which exclude each other."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true",
                       help="debug logging, and the traceback of an error as well as its line")
    group.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors; no progress bars")


def set_threads(threads: int) -> None:
    """--threads N: torch's, faiss' and numpy's BLAS (dense search) CPU threads, set before anything runs."""
    if threads < 1:
        raise SgptEvalError(f"--threads {threads}: must be at least 1")
    import faiss
    import threadpoolctl
    import torch

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads, user_api="blas")


def add_fields(group, cls, names: Iterable[str], defaults: dict | None = None, given_only: bool = False) -> None:
    """One flag per named field of the dataclass `cls`, typed, with its help text and choices. With
    `given_only`, a flag not given leaves no value at all (rather than its default), so that a flag given
    with its default's value still overrides a config's."""
    defaults = defaults or {}
    for spec in dataclasses.fields(cls):
        if spec.name not in names:
            continue
        meta = spec.metadata
        flags = [meta.get("flag", "--" + spec.name.replace("_", "-")), *meta.get("aliases", ())]
        default = defaults.get(spec.name, None if spec.default is dataclasses.MISSING else spec.default)
        kind = str(spec.type).replace(" | None", "")
        keywords: dict = {"dest": spec.name, "default": argparse.SUPPRESS if given_only else default,
                          "help": meta["help"]}
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
