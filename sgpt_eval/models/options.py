"""What a user sets about a model, declared once: the CLI flags and the TOML keys both come from
`ModelOptions`' fields, and both encoders take it.

Options are requests (None: the preset's or the checkpoint's own value); the encoders resolve
them into settings (`settings.EncoderSettings`, `CrossEncoderSettings`: `resolution`), which are what a report records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..checks import at_least_one, typed_fields
from ..errors import SgptEvalError
from .presets import POOLINGS, find_preset

DTYPE_NAMES = ("float32", "float16", "bfloat16")
# How a cross-encoder turns the query tokens' log-probabilities into one score; the first, SGPT-CE's
# log P(query | prompt), is the default.
AGGREGATES = ("sum", "mean")


def option(help: str, **cli) -> dict:
    """Field metadata: the help text and any argparse settings of the field's flag."""
    return {"help": help, **cli}


@dataclass(frozen=True)
class ModelOptions:
    model: str = field(metadata=option("preset name, hub id or local folder (see `sgpt-eval models`)"))
    revision: str | None = field(default=None, metadata=option("hub revision (branch, tag or commit)"))
    pooling: str | None = field(default=None, metadata=option(
        "bi-encoder: override the preset's / checkpoint's pooling", choices=POOLINGS))
    specb: bool | None = field(default=None, metadata=option(
        "bi-encoder: wrap queries in [ ] and documents in { } token ids (SGPT asymmetric search)"))
    template: str | None = field(default=None, metadata=option(
        "cross-encoder prompt: asymmetric (default), symmetric, upr (UPR's question generation), "
        "or your own text containing {doc}"))
    max_length: int | None = field(default=None, metadata=option(
        "maximum tokens per text, brackets included (cross-encoder: model input tokens; default: its context)"))
    dtype: str = field(default="auto", metadata=option(
        "auto (fp32 on CPU, fp16 on GPU), float32, float16, bfloat16", choices=("auto", *DTYPE_NAMES)))
    device: str | None = field(default=None, metadata=option("cpu, cuda, cuda:1 ... (default: cuda when available)"))
    batch_size: int | None = field(default=None, metadata=option(
        "most texts (bi-encoder, default: as many as --batch-tokens allows) or pairs (cross-encoder, default 16) "
        "per forward pass"))
    batch_tokens: int | None = field(default=None, metadata=option(
        "bi-encoder: most tokens per forward pass, padding included (default 4096 on CPU, 16384 on GPU); "
        "texts sorted by length, so short ones run in wide batches"))
    trust_remote_code: bool = field(default=False, metadata=option("run model code shipped with the checkpoint"))
    # Settings of the decoder embedders after SGPT (E5-Mistral, RepLLaMA, GritLM); bi-encoder only.
    query_template: str | None = field(default=None, metadata=option(
        "bi-encoder: text around each query, with {text} (and {instruction}); default: the preset's, or the text itself"))
    doc_template: str | None = field(default=None, metadata=option(
        "bi-encoder: text around each document, with {text} (and {instruction}); default: the preset's, or the text"))
    instruction: str | None = field(default=None, metadata=option(
        "bi-encoder: task instruction put where a template says {instruction} (default: the preset's for the dataset)"))
    append_eos: bool | None = field(default=None, metadata=option(
        "bi-encoder: end every text with the tokenizer's end-of-sequence id (within --max-length)"))
    exclude_instruction: bool | None = field(default=None, metadata=option(
        "bi-encoder: leave the template's tokens before {text} out of the pooling (they are still attended to)"))
    adapter: str | None = field(default=None, metadata=option(
        "bi-encoder: LoRA adapter (local folder or hub id) merged into the model (needs peft)"))
    bidirectional: bool | None = field(default=None, metadata=option(
        "bi-encoder: every token attends to every other, padding aside (GritLM's embedding mode); "
        "a decoder is otherwise causal"))
    aggregate: str | None = field(default=None, metadata=option(
        "cross-encoder score: sum of the query tokens' log-probabilities (SGPT's, default) "
        "or their mean (length-normalised)", choices=AGGREGATES))

    def __post_init__(self) -> None:
        typed_fields(self)
        at_least_one({"batch_size": self.batch_size, "batch_tokens": self.batch_tokens, "max_length": self.max_length})
        object.__setattr__(self, "model", canonical_model(self.model))

    def check(self, kind: str) -> None:
        """Refuse the options that mean nothing to this kind of model ("bi" or "cross")."""
        unused = ("template", "aggregate") if kind == "bi" else ("pooling", "specb", *BI_ENCODER_ONLY)
        given = [name for name in unused if getattr(self, name) is not None]
        if given:
            what = "a bi-encoder" if kind == "bi" else "a cross-encoder"
            raise SgptEvalError(f"{', '.join(given)}: not a setting of {what} (model {self.model}); drop it")


BI_ENCODER_ONLY = ("query_template", "doc_template", "instruction", "append_eos", "exclude_instruction", "adapter",
                   "bidirectional", "batch_tokens")


def canonical_model(model: str) -> str:
    """A preset however it is typed (its name or hub id, in any case) as the preset spells its name, so
    that one model has one identity; a folder on disk is left as given."""
    preset = find_preset(model)
    if preset is None or Path(model).expanduser().exists():
        return model
    return preset.name


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto` is fp32 on CPU (fp16 is slow there) and fp16 on GPU."""
    if dtype == "auto":
        return "float16" if device.startswith("cuda") else "float32"
    if dtype not in DTYPE_NAMES:
        raise SgptEvalError(f"--dtype {dtype}: choose from auto, {', '.join(DTYPE_NAMES)}")
    return dtype


def resolve_aggregate(aggregate: str | None) -> str:
    """None is the default, "sum"; anything but AGGREGATES is refused before a model loads."""
    if aggregate is None:
        return AGGREGATES[0]
    if aggregate not in AGGREGATES:
        raise SgptEvalError(f"--aggregate {aggregate}: choose from {', '.join(AGGREGATES)}")
    return aggregate


def check_max_length(max_length: int | None, config, model: str) -> None:
    """A --max-length beyond the model's position embeddings would fail only once a text that long
    is encoded, after the model has loaded: refuse it as soon as the config is read."""
    if max_length is not None and max_length < 1:
        raise SgptEvalError(f"--max-length {max_length}: must be at least 1")
    positions = getattr(config, "max_position_embeddings", None)
    if max_length is not None and positions and max_length > positions:
        raise SgptEvalError(f"--max-length {max_length}: model {model} has {positions} positions; use at most {positions}")
