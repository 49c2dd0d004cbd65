"""The `sgpt-eval` command that reproduces one report, written from its identity alone.

A report also records the command line that happened to produce it, but that line may have run
a whole batch, named a config file, or relied on defaults that have since changed. The command
here names every setting the identity holds, so that running it resolves to the same identity
(a test parses it with the real parser and resolves it). Settings that follow from the model's
files (normalisation, dense layers) are not options and need none; a revision that is a
fingerprint of local files rather than a hub commit cannot be asked for, and is left out.
"""

from __future__ import annotations

import dataclasses
import re
import shlex

from ..data.catalogue import default_split
from ..errors import SgptEvalError
from ..evaluation.specs import RunOptions
from ..models.options import ModelOptions
from ..models.prompts import TEMPLATES
from ..reports.schema import Identity
from ..retrieval.bm25_settings import BM25Settings

# The command that runs each method on BEIR.
COMMANDS = {"dense": "eval", "bm25": "bm25", "rerank": "rerank"}
# Model settings read from the checkpoint, never given as options.
_DERIVED = ("normalize", "dense_layers", "vocabulary_projection")
_HUB_COMMIT = re.compile(r"[0-9a-f]{40}")
_FIXED_BM25 = {name: value for name, value in BM25Settings().as_dict().items() if name not in ("k1", "b")}


def _flag(cls, name: str) -> str:
    """The option's flag as the command line declares it (`add_fields`)."""
    spec = next(spec for spec in dataclasses.fields(cls) if spec.name == name)
    return spec.metadata.get("flag", "--" + name.replace("_", "-"))


def _option(cls, name: str, value) -> list[str]:
    """One option as arguments: a boolean as its flag or its --no- form, a value after its flag."""
    flag = _flag(cls, name)
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag.removeprefix("--")]
    return [flag, str(value)]


def _model_arguments(model: dict) -> list[str]:
    arguments: list[str] = []
    for name, value in model.items():
        if name in _DERIVED or value is None:
            continue
        if name == "revision":
            if _HUB_COMMIT.fullmatch(value):
                arguments += _option(ModelOptions, name, value)
            continue
        if name == "adapter_revision":
            raise SgptEvalError(f"adapter revision {value}: no option asks for one; this run cannot be reproduced "
                                "by a command")
        if name == "template":
            value = next((known for known, text in TEMPLATES.items() if text == value), value)
        arguments += _option(ModelOptions, name, value)
    return arguments


def _bm25_arguments(bm25: dict) -> list[str]:
    fixed = {name: bm25.get(name) for name in _FIXED_BM25}
    if fixed != _FIXED_BM25:
        raise SgptEvalError(f"BM25 settings {fixed}: not options of this sgpt-eval (it uses {_FIXED_BM25}); "
                            "this run cannot be reproduced by a command")
    return _option(RunOptions, "k1", bm25["k1"]) + _option(RunOptions, "b", bm25["b"])


def command_arguments(identity: Identity) -> list[str]:
    """The arguments after `sgpt-eval` that reproduce `identity`; an identity no command can give
    (a fusion, a re-ranked ranking file, settings this version has no option for, settings missing)
    is an error saying so."""
    try:
        return _arguments(identity)
    except KeyError as exc:
        raise SgptEvalError(f"the identity lacks the setting {exc} its method records; "
                            "see the report's recorded command") from None


def _arguments(identity: Identity) -> list[str]:
    if identity.benchmark == "useb":
        return ["useb", "--datasets", identity.dataset, "--split", identity.split, *_model_arguments(identity.model)]
    if identity.method not in COMMANDS:
        raise SgptEvalError(f"method {identity.method}: no single command reproduces it; "
                            "see the report's recorded command")
    arguments = [COMMANDS[identity.method], "--dataset", identity.dataset]
    if identity.split != default_split(identity.dataset):
        arguments += _option(RunOptions, "split", identity.split)
    settings = dict(identity.settings)
    if identity.method == "bm25":
        arguments += _bm25_arguments(settings.pop("bm25"))
    if identity.method == "rerank":
        first = settings.pop("first_stage")
        if first.get("kind") != "bm25" or first.get("top_k") != settings.get("top_k"):
            raise SgptEvalError(f"first stage {first.get('kind')}: a re-ranked ranking file is named by its hash "
                                "only; see the report's recorded command")
        arguments += _bm25_arguments(first["bm25"])
    for name, value in settings.items():
        if value is not None:
            arguments += _option(RunOptions, name, value)
    return arguments + (_model_arguments(identity.model) if identity.model else [])


def command_line(identity: Identity) -> str:
    """The command as one shell line."""
    return shlex.join(["sgpt-eval", *command_arguments(identity)])
