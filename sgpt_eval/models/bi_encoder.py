"""SGPT bi-encoder: one vector per text from any transformers model (BEIR's model interface).

The stack is sentence-transformers' (transformer -> [dense] -> pooling -> [dense] ->
[normalize]) with SGPT's asymmetric "specb" brackets: queries are wrapped in the token ids
of `[` `]` and documents in those of `{` `}`, added to the ids after tokenization so that
they can never merge with neighbouring text into another token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.beir import document_text
from ..errors import SgptEvalError
from ..progress import progress_bar
from . import st_layout
from .options import ModelOptions, check_max_length, default_device, resolve_dtype
from .pooling import pool
from .presets import POOLINGS
from .store import ModelSource, load_pretrained, source_of

log = logging.getLogger(__name__)

QUERY_BRACKETS = ("[", "]")
DOC_BRACKETS = ("{", "}")
DEFAULT_MAX_LENGTH = 512
DEFAULT_BATCH_SIZE = 32
_PLURAL = {"query": "queries", "doc": "documents"}


@dataclass(frozen=True)
class EncoderSettings:
    """Everything that changes the vectors; part of the embedding cache key and the report."""

    model: str
    revision: str
    pooling: str
    specb: bool
    max_length: int
    dtype: str
    normalize: bool
    dense_layers: int

    def as_dict(self) -> dict:
        return asdict(self)


def plan(
    source: ModelSource,
    pooling: str | None = None,
    specb: bool | None = None,
    max_length: int | None = None,
    dtype: str = "auto",
    device: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
) -> tuple[EncoderSettings, st_layout.StLayout, str]:
    """The settings a bi-encoder will have, from its files' configs alone (no weights loaded):
    an option given wins, then the preset, then the checkpoint's own files, then the defaults."""
    from transformers import AutoConfig

    device = device or default_device()
    layout = st_layout.read(source.path, allow_pickle)
    preset = source.preset
    config = AutoConfig.from_pretrained(layout.transformer_dir, trust_remote_code=trust_remote_code)
    check_max_length(max_length, config, source.name)
    pooling = pooling or (preset.pooling if preset else None) or layout.pooling or (
        "weightedmean" if _is_causal(config) else "mean")
    if pooling not in POOLINGS:
        raise SgptEvalError(f"--pooling {pooling}: choose from {', '.join(POOLINGS)}")
    settings = EncoderSettings(
        model=source.name,
        revision=source.revision,
        pooling=pooling,
        specb=specb if specb is not None else (preset.specb if preset else False),
        max_length=max_length or (preset.max_length if preset else None) or layout.max_length or DEFAULT_MAX_LENGTH,
        dtype=resolve_dtype(dtype, device),
        normalize=layout.normalize,
        dense_layers=len(layout.dense_before_pooling) + len(layout.dense_after_pooling),
    )
    return settings, layout, device


def describe(options: ModelOptions, cache_dir: Path) -> EncoderSettings:
    """The settings `SGPTBiEncoder.from_options` would load, without loading any weights."""
    options.check("bi")
    return plan(source_of(options, cache_dir), **_plan_arguments(options))[0]


def _plan_arguments(options: ModelOptions) -> dict:
    return {"pooling": options.pooling, "specb": options.specb, "max_length": options.max_length, "dtype": options.dtype,
            "device": options.device, "allow_pickle": options.allow_pickle, "trust_remote_code": options.trust_remote_code}


class SGPTBiEncoder:
    """Encode queries and documents; `encode_queries` / `encode_corpus` follow BEIR's interface."""

    def __init__(self, source: ModelSource, batch_size: int = DEFAULT_BATCH_SIZE, **options) -> None:
        """`options`: those of `plan` (pooling, specb, max_length, dtype, device, allow_pickle, trust_remote_code)."""
        from transformers import AutoModel, AutoTokenizer

        started = time.perf_counter()
        self.settings, layout, self.device = plan(source, **options)
        allow_pickle, trust_remote_code = options.get("allow_pickle", False), options.get("trust_remote_code", False)
        self.batch_size = batch_size
        self.pooling, self.specb = self.settings.pooling, self.settings.specb
        self.max_length, self.dtype = self.settings.max_length, self.settings.dtype
        folder = layout.transformer_dir
        self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
        self.model = load_pretrained(AutoModel, folder, source.name, self.dtype, allow_pickle, trust_remote_code)
        self.model.to(self.device).eval()
        self.dense_before = torch.nn.ModuleList(layout.dense_before_pooling).to(self.device)
        self.dense_after = torch.nn.ModuleList(layout.dense_after_pooling).to(self.device)
        self.normalize = layout.normalize
        self.pad_id = _pad_id(self.tokenizer)
        self.brackets = {
            "query": tuple(self._single_token(b) for b in QUERY_BRACKETS),
            "doc": tuple(self._single_token(b) for b in DOC_BRACKETS),
        } if self.specb else {"query": None, "doc": None}
        self.load_seconds = time.perf_counter() - started
        log.info("bi-encoder %s", self.settings)

    @classmethod
    def from_options(cls, options: ModelOptions, cache_dir: Path) -> SGPTBiEncoder:
        options.check("bi")
        return cls(source_of(options, cache_dir), batch_size=options.batch_size or DEFAULT_BATCH_SIZE,
                   **_plan_arguments(options))

    def _single_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise SgptEvalError(f"specb brackets need '{text}' to be one token, but this tokenizer gives {ids}; use --no-specb")
        return ids[0]

    # -- tokenization ---------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], kind: str) -> list[list[int]]:
        """Token ids per text, without padding; brackets (if any) fit inside max_length."""
        brackets = self.brackets.get(kind)
        room = self.max_length - (2 if brackets else 0)
        ids = self.tokenizer(list(texts), truncation=True, max_length=room, padding=False)["input_ids"]
        if brackets:
            ids = [[brackets[0], *seq, brackets[1]] for seq in ids]
        return ids

    # -- encoding -------------------------------------------------------------------------
    @torch.inference_mode()
    def embed_ids(self, batch: Sequence[Sequence[int]]) -> torch.Tensor:
        """One forward pass over a batch of token id lists (right-padded here)."""
        width = max(len(seq) for seq in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        states = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state.float()
        for dense in self.dense_before:
            states = dense(states)
        vectors = pool(states, mask, self.pooling)
        for dense in self.dense_after:
            vectors = dense(vectors)
        if self.normalize:
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return vectors

    def encode(
        self, texts: Sequence[str], kind: str = "query", batch_size: int | None = None, show_progress_bar: bool = True
    ) -> np.ndarray:
        """Encode texts as float32 rows, longest first in batches, returned in input order."""
        if kind not in ("query", "doc"):
            raise ValueError(f"kind must be 'query' or 'doc', not {kind!r}")
        batch_size = batch_size or self.batch_size
        ids = self.tokenize(texts, kind)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out: np.ndarray | None = None
        with progress_bar(total=len(ids), desc=f"encode {_PLURAL[kind]}", unit=kind, hide=not show_progress_bar) as bar:
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                vectors = self.embed_ids([ids[i] for i in rows]).cpu().numpy()
                if out is None:
                    out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors
                bar.update(len(rows))
        if out is None:
            raise SgptEvalError(f"nothing to encode: the list of {kind}s is empty")
        return out

    # -- BEIR's interface -----------------------------------------------------------------
    def encode_queries(self, queries: list[str], batch_size: int | None = None, **kwargs) -> np.ndarray | torch.Tensor:
        vectors = self.encode(queries, "query", batch_size, kwargs.get("show_progress_bar", True))
        return torch.from_numpy(vectors) if kwargs.get("convert_to_tensor") else vectors

    def encode_corpus(self, corpus, batch_size: int | None = None, **kwargs) -> np.ndarray | torch.Tensor:
        """`corpus`: a list of {"title", "text"} dicts, a dict of lists, or a list of strings."""
        vectors = self.encode(corpus_texts(corpus), "doc", batch_size, kwargs.get("show_progress_bar", True))
        return torch.from_numpy(vectors) if kwargs.get("convert_to_tensor") else vectors


def corpus_texts(corpus) -> list[str]:
    if isinstance(corpus, dict):  # columns, as BEIR passes a HF dataset slice
        titles = corpus.get("title") or [""] * len(corpus["text"])
        return [document_text({"title": t, "text": x}) for t, x in zip(titles, corpus["text"])]
    return [doc if isinstance(doc, str) else document_text(doc) for doc in corpus]


def _is_causal(config) -> bool:
    return any(name.endswith("ForCausalLM") for name in (config.architectures or [])) or config.model_type in (
        "gpt2", "gpt_neo", "gptj", "bloom", "llama", "mistral", "qwen2", "opt", "gpt_neox", "falcon", "phi", "gemma",
    )


def _pad_id(tokenizer) -> int:
    """Any id works for padding (the mask hides it); GPT-2-style tokenizers have no pad token."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0
