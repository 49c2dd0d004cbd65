"""How tables and comparisons name a system: its method and model, plus the settings that tell
it apart from another configuration of the same model shown beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence

from .schema import Identity

# Settings named in every label where set: a query subset or another split is never a full test run.
ALWAYS_NAMED = ("max_queries", "split")
FUSION_NAMES = {"rrf": "RRF", "weighted": "Weighted"}


def base_label(identity: Identity) -> str:
    """e.g. "BM25", "all-MiniLM-L6-v2 (dense)", "BM25+SmolLM2-135M (rerank)",
    "RRF(BM25, all-MiniLM-L6-v2 (dense))"."""
    model = identity.model_name
    if identity.method == "bm25":
        return "BM25"
    if identity.method == "fusion":
        inputs = ", ".join(_input_label(given) for given in identity.settings.get("inputs", []))
        return f"{FUSION_NAMES.get(model, model)}({inputs})"
    if identity.method == "rerank":
        first = identity.settings.get("first_stage", {}).get("kind")
        return f"BM25+{model} (rerank)" if first == "bm25" else f"{model} (rerank)"
    return f"{model} ({identity.method})"


def _input_label(given: dict) -> str:
    """A fused input: its report's system ("BM25", "all-MiniLM-L6-v2 (dense)"), or a ranking file's hash."""
    if "system" not in given:
        return f"ranking {given['sha256'][:8]}"
    method, _, model = given["system"].partition(":")
    return "BM25" if method == "bm25" else f"{model} ({method})"


def labels(identities: Sequence[Identity]) -> list[str]:
    """One label per identity: the base label, and where one base has several configurations,
    the settings whose values differ among them (a query subset, and a split other than the
    evaluation split, are always named)."""
    configurations = [identity.configuration() for identity in identities]
    groups: dict[str, list[dict]] = {}
    for identity, configuration in zip(identities, configurations):
        groups.setdefault(base_label(identity), []).append(configuration)
    differing = {base: _differing(group) for base, group in groups.items()}
    result = []
    for identity, configuration in zip(identities, configurations):
        base = base_label(identity)
        keys = [key for key in differing[base] if key not in ALWAYS_NAMED]
        keys += [key for key in ALWAYS_NAMED if configuration.get(key) is not None]
        shown = ", ".join(f"{key}={_text(configuration.get(key))}" for key in keys)
        result.append(f"{base} [{shown}]" if shown else base)
    return result


def _differing(configurations: list[dict]) -> list[str]:
    keys = list(dict.fromkeys(key for configuration in configurations for key in configuration))
    return [key for key in keys if len({json.dumps(c.get(key), sort_keys=True) for c in configurations}) > 1]


def _text(value) -> str:
    return "-" if value is None else str(value)
