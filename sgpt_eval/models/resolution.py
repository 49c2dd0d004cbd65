"""A model request resolved once: where its files are, at which revision, and every setting it
will run with, read from its configs before any weights load.

Describing a run, planning it and loading the model all start from one `ResolvedModel`, so the
settings a report records are the settings the weights are loaded with: there is no second
resolution that could disagree with the first. The encoders load from it (`executors.load`), here
or on a Ray worker, and take from it only what does not change a number besides (device, batch sizes).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import SgptEvalError
from . import st_layout, store
from .options import ModelOptions, check_max_length, default_device, resolve_aggregate, resolve_dtype
from .presets import POOLINGS
from .prompts import DEFAULT_TEMPLATE, resolve_template
from .settings import TEXT, CrossEncoderSettings, EncoderSettings
from .st_layout import StLayout
from .store import ModelSource

log = logging.getLogger(__name__)

KINDS = ("bi", "cross")  # a bi-encoder (dense retrieval) or a cross-encoder (re-ranking)
DEFAULT_MAX_LENGTH = 512  # a bi-encoder's tokens per text where neither option, preset nor checkpoint sets one
# The context of a model whose config has no position embeddings (BLOOM's ALiBi) and whose
# tokenizer names no limit: 2048, SGPT-CE's context with GPT-Neo and GPT-J.
DEFAULT_CONTEXT = 2048
_NO_LIMIT = 1_000_000  # tokenizers without a limit give a huge model_max_length (1e30)


@dataclass(frozen=True)
class ResolvedModel:
    kind: str
    source: ModelSource
    settings: EncoderSettings | CrossEncoderSettings  # what changes its numbers: the report's and the caches' key
    device: str
    batch_size: int | None = None  # None: the encoder's default
    batch_tokens: int | None = None  # bi-encoder: padded tokens per forward pass (None: the device's default)
    trust_remote_code: bool = False
    layout: StLayout | None = None  # bi-encoder: its sentence-transformers modules
    adapter: ModelSource | None = None  # bi-encoder: a LoRA adapter merged into the weights

    def for_dataset(self, dataset: str) -> ResolvedModel:
        """The model with the task instruction of `dataset`, where its templates ask for one."""
        if self.kind != "bi":
            return self
        return dataclasses.replace(self, settings=self.settings.for_dataset(dataset))

    def weights_key(self) -> ResolvedModel:
        """The model less its task instruction: one set of loaded weights serves every dataset."""
        if self.kind != "bi" or self.settings.instruction is None:
            return self
        return dataclasses.replace(self, settings=dataclasses.replace(self.settings, instruction=None))


def resolve_model(options: ModelOptions, kind: str, cache_dir: Path, weights: bool = True) -> ResolvedModel:
    """Resolve `options` as a model of `kind`; its files are found or downloaded (without `weights`,
    its configs and tokenizer only), every option is checked, and nothing is loaded."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    options.check(kind)
    source = store.resolve(options.model, cache_dir, options.revision, weights)
    device = options.device or default_device()
    common = {"device": device, "batch_size": options.batch_size, "trust_remote_code": options.trust_remote_code}
    if kind == "cross":
        return ResolvedModel(kind, source, cross_encoder_settings(source, options, device), **common)
    adapter = _adapter(options, source, cache_dir, weights)
    settings, layout = encoder_settings(source, options, device, adapter)
    return ResolvedModel(kind, source, settings, batch_tokens=options.batch_tokens, layout=layout, adapter=adapter,
                         **common)


def _adapter(options: ModelOptions, source: ModelSource, cache_dir: Path, weights: bool) -> ModelSource | None:
    """The LoRA adapter's files (--adapter, else the preset's), checked for peft before any download."""
    name = options.adapter or (source.preset.adapter if source.preset else None)
    if name is None:
        return None
    if importlib.util.find_spec("peft") is None:
        raise SgptEvalError(f"--adapter {name}: needs the peft package; pip install 'sgpt-eval[peft]'")
    return store.resolve(name, cache_dir, weights=weights)


def encoder_settings(source: ModelSource, options: ModelOptions, device: str,
                     adapter: ModelSource | None) -> tuple[EncoderSettings, StLayout]:
    """The settings a bi-encoder will have, from its files' configs alone (no weights loaded):
    an option given wins, then the preset, then the checkpoint's own files, then the defaults."""
    from transformers import AutoConfig

    layout = st_layout.read(source.path)
    preset = source.preset
    config = AutoConfig.from_pretrained(layout.transformer_dir, trust_remote_code=options.trust_remote_code)
    check_max_length(options.max_length, config, source.name)
    pooling = options.pooling or (preset.pooling if preset else None) or layout.pooling or (
        "weightedmean" if _is_causal(config) else "mean")
    if pooling not in POOLINGS:
        raise SgptEvalError(f"--pooling {pooling}: choose from {', '.join(POOLINGS)}")

    def chosen(name: str, default=False):
        """The option when given, else the preset's value, else `default`."""
        given = getattr(options, name)
        return given if given is not None else (getattr(preset, name) if preset else default)

    settings = EncoderSettings(
        model=source.name,
        revision=source.revision,
        pooling=pooling,
        specb=chosen("specb"),
        max_length=options.max_length or (preset.max_length if preset else None) or layout.max_length
        or DEFAULT_MAX_LENGTH,
        dtype=resolve_dtype(options.dtype, device),
        normalize=layout.normalize,
        dense_layers=len(layout.dense_before_pooling) + len(layout.dense_after_pooling),
        query_template=_template("--query-template", options.query_template or (preset.query_template if preset else None)),
        doc_template=_template("--doc-template", options.doc_template or (preset.doc_template if preset else None)),
        instruction=options.instruction,
        append_eos=bool(chosen("append_eos")),
        exclude_instruction=bool(chosen("exclude_instruction")),
        adapter=adapter.name if adapter else None,
        adapter_revision=adapter.revision if adapter else None,
        bidirectional=bool(chosen("bidirectional")),
        instructions=preset.instructions if preset else (),
    )
    return settings, layout


def _template(flag: str, template: str | None) -> str | None:
    """A template holds {text} exactly once; None stays None (the text itself)."""
    if template is not None and template.count(TEXT) != 1:
        raise SgptEvalError(f"{flag} {template!r}: must contain {TEXT} exactly once")
    return template


def _is_causal(config) -> bool:
    return any(name.endswith("ForCausalLM") for name in (config.architectures or [])) or config.model_type in (
        "gpt2", "gpt_neo", "gptj", "bloom", "llama", "mistral", "qwen2", "opt", "gpt_neox", "falcon", "phi", "gemma",
    )


def cross_encoder_settings(source: ModelSource, options: ModelOptions, device: str) -> CrossEncoderSettings:
    """The settings a cross-encoder will have, from its config alone (no weights loaded); the context
    is --max-length, else the config's position embeddings, else what the tokenizer says."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(source.path, trust_remote_code=options.trust_remote_code)
    check_max_length(options.max_length, config, source.name)
    limit = (options.max_length or getattr(config, "max_position_embeddings", None)
             or tokenizer_context(source.path, source.name, options.trust_remote_code))
    template = resolve_template(options.template or DEFAULT_TEMPLATE)
    return CrossEncoderSettings(source.name, source.revision, template, int(limit), resolve_dtype(options.dtype, device),
                                resolve_aggregate(options.aggregate))


@functools.lru_cache(maxsize=None)
def tokenizer_context(path: Path, name: str, trust_remote_code: bool) -> int:
    """The context of a model whose config names none: its tokenizer's `model_max_length` when that
    is a real limit, else DEFAULT_CONTEXT; said once per model at INFO."""
    from transformers import AutoTokenizer

    try:
        limit = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code).model_max_length
    except (OSError, ValueError) as exc:
        raise SgptEvalError(f"model {name}: its tokenizer does not load ({str(exc).splitlines()[0]}); "
                            "check the model folder") from None
    if isinstance(limit, (int, float)) and 0 < limit < _NO_LIMIT:
        log.info("model %s: no max_position_embeddings in its config; context %d tokens, its tokenizer's "
                 "model_max_length", name, limit)
        return int(limit)
    log.info("model %s: neither its config nor its tokenizer gives a context length; context %d tokens "
             "(SGPT-CE's with GPT-Neo and GPT-J); --max-length sets another", name, DEFAULT_CONTEXT)
    return DEFAULT_CONTEXT
