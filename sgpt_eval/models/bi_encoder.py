"""SGPT bi-encoder: one vector per text from any transformers model (BEIR's model interface).

The stack is sentence-transformers' (transformer -> [dense] -> pooling -> [dense] ->
[normalize]) with SGPT's asymmetric "specb" brackets: queries are wrapped in the token ids
of `[` `]` and documents in those of `{` `}`, added to the ids after tokenization so that
they can never merge with neighbouring text into another token.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..data.beir import document_text
from ..errors import SgptEvalError
from ..progress import progress_bar
from . import st_layout
from .pooling import pool
from .store import load_pretrained

if TYPE_CHECKING:
    from .resolution import ResolvedModel

log = logging.getLogger(__name__)

QUERY_BRACKETS = ("[", "]")
DOC_BRACKETS = ("{", "}")
# Tokens per forward pass, padding included. On a GPU: 32 texts at the default max_length of 512
# (the batch size before there was a budget), and many more short ones (all of SciFact's queries at
# once). On a CPU a smaller working set stays in cache: 4,096 encoded SciFact 14-16% faster than
# 16,384 with all-MiniLM-L6-v2 and SmolLM2-135M alike (benchmarks/README.md, "Token budget").
DEFAULT_BATCH_TOKENS = {"cpu": 4096, "accelerator": 16384}
# CPU flags of hardware bfloat16 arithmetic (x86 AVX512-BF16 and AMX, Arm's BF16 extension).
_BFLOAT16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}
_PLURAL = {"query": "queries", "doc": "documents"}


class SGPTBiEncoder:
    """Encode queries and documents; `encode_queries` / `encode_corpus` follow BEIR's interface."""

    def __init__(self, model: ResolvedModel) -> None:
        """Load the weights of a resolved bi-encoder (`resolution.resolve_model(options, "bi", ...)`)."""
        from transformers import AutoModel, AutoTokenizer

        started = time.perf_counter()
        self.settings, self.device = model.settings, model.device
        layout, name = model.layout, model.source.name
        self.batch_size = model.batch_size
        self.batch_tokens = model.batch_tokens or default_batch_tokens(self.device)
        self.pooling, self.specb = self.settings.pooling, self.settings.specb
        self.max_length, self.dtype = self.settings.max_length, self.settings.dtype
        if self.dtype == "bfloat16" and self.device == "cpu" and not native_bfloat16():
            log.warning("--dtype bfloat16: this CPU has no hardware bfloat16 (avx512_bf16, amx_bf16); "
                        "it is emulated and likely slower than float32")
        folder = layout.transformer_dir
        self.tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=model.trust_remote_code)
        self.model = load_pretrained(AutoModel, folder, name, self.dtype, model.trust_remote_code)
        if model.adapter:
            from peft import PeftModel

            # Merged once: inference then runs the plain model, as fast as without the adapter.
            self.model = PeftModel.from_pretrained(self.model, model.adapter.path).merge_and_unload()
        self.model.to(self.device).eval()
        self.dense_before = torch.nn.ModuleList(map(st_layout.dense_module, layout.dense_before_pooling)).to(self.device)
        self.dense_after = torch.nn.ModuleList(map(st_layout.dense_module, layout.dense_after_pooling)).to(self.device)
        self.normalize = layout.normalize
        self.pad_id = _pad_id(self.tokenizer)
        if self.settings.bidirectional:
            self._check_bidirectional(name)
        self.brackets = {
            "query": tuple(self._single_token(b) for b in QUERY_BRACKETS),
            "doc": tuple(self._single_token(b) for b in DOC_BRACKETS),
        } if self.specb else {"query": None, "doc": None}
        self.load_seconds = time.perf_counter() - started
        log.info("bi-encoder %s", self.settings)

    def with_instruction(self, instruction: str | None) -> SGPTBiEncoder:
        """This encoder (same weights) with another task instruction, which its settings (and so
        its embedding cache key) then carry."""
        if instruction == self.settings.instruction:
            return self
        other = copy.copy(self)
        other.settings = dataclasses.replace(self.settings, instruction=instruction)
        return other

    def _single_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise SgptEvalError(f"specb brackets need '{text}' to be one token, but this tokenizer gives {ids}; use --no-specb")
        return ids[0]

    # -- tokenization ---------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], kind: str) -> list[list[int]]:
        """Token ids per text, without padding: the text in its template, tokenized whole; brackets
        (if any) and the end-of-sequence id (if asked) added as ids, inside max_length."""
        brackets = self.brackets.get(kind)
        eos = [self.tokenizer.eos_token_id] if self.settings.append_eos else []
        room = self.max_length - (2 if brackets else 0) - len(eos)
        head, tail = self.settings.template(kind)
        texts = [head + text + tail for text in texts] if head or tail else list(texts)
        ids = self.tokenizer(texts, truncation=True, max_length=room, padding=False)["input_ids"]
        if brackets:
            ids = [[brackets[0], *seq, brackets[1]] for seq in ids]
        return [seq + eos for seq in ids]

    def skipped(self, kind: str) -> tuple[int, int]:
        """(start, count) of the leading token positions left out of the pooling: the template's
        tokens before {text}, special ones included (as GritLM counts them), after any bracket."""
        if not self.settings.exclude_instruction:
            return 0, 0
        head = self.settings.template(kind)[0]
        return (1 if self.brackets.get(kind) else 0), len(self.tokenizer(head)["input_ids"]) if head else 0

    # -- encoding -------------------------------------------------------------------------
    @torch.inference_mode()
    def embed_ids(self, batch: Sequence[Sequence[int]], skipped: tuple[int, int] = (0, 0)) -> torch.Tensor:
        """One forward pass over a batch of token id lists (right-padded here); the `skipped`
        (start, count) positions are attended to but not pooled."""
        width = max(len(seq) for seq in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        states = self.model(input_ids=input_ids, attention_mask=self.attention_mask(mask)).last_hidden_state.float()
        for dense in self.dense_before:
            states = dense(states)
        start, count = skipped
        pooled = mask.clone()
        pooled[:, start : start + count] = 0
        vectors = pool(states, pooled, self.pooling)
        for dense in self.dense_after:
            vectors = dense(vectors)
        if self.normalize:
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        return vectors

    def attention_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """What the model is given for a (batch x width) padding mask: that mask, which a decoder
        combines with its causal one; or, `bidirectional`, a (batch x 1 x width x width) additive
        mask that blocks the padding keys only, which transformers applies as it is."""
        if not self.settings.bidirectional:
            return mask
        dtype = next(self.model.parameters()).dtype
        blocked = (1 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        return blocked.expand(-1, 1, mask.shape[1], -1)

    @torch.inference_mode()
    def _check_bidirectional(self, name: str) -> None:
        """A model whose attention code adds a causal mask of its own (GPT-Neo's, for one) would
        ignore ours and stay causal without a word: refuse it. Bidirectional, the first token's
        state depends on the second."""
        ids = torch.tensor([[1, 2], [1, 3]], device=self.device)
        states = self.model(input_ids=ids, attention_mask=self.attention_mask(torch.ones_like(ids))).last_hidden_state
        if torch.equal(states[0, 0], states[1, 0]):
            raise SgptEvalError(f"--bidirectional: model {name} ({type(self.model).__name__}) keeps its causal mask "
                                "whatever mask it is given; drop --bidirectional for this model")

    def encode(
        self, texts: Sequence[str], kind: str = "query", batch_size: int | None = None, show_progress_bar: bool = True
    ) -> np.ndarray:
        """Encode texts as float32 rows, returned in input order. Longest first, in batches of at
        most `self.batch_tokens` padded tokens (and `batch_size` texts, where given): similar lengths
        share a batch, so little padding is computed, and short texts run many at a time."""
        if kind not in ("query", "doc"):
            raise ValueError(f"kind must be 'query' or 'doc', not {kind!r}")
        ids, skipped = self.tokenize(texts, kind), self.skipped(kind)
        out: np.ndarray | None = None
        with progress_bar(total=len(ids), desc=f"encode {_PLURAL[kind]}", unit=kind, hide=not show_progress_bar) as bar:
            for rows, vectors in self.embed_batches(ids, skipped, batch_size or self.batch_size):
                if out is None:
                    out = np.empty((len(ids), vectors.shape[1]), dtype=np.float32)
                out[rows] = vectors
                bar.update(len(rows))
        if out is None:
            raise SgptEvalError(f"nothing to encode: the list of {kind}s is empty")
        return out

    def embed_batches(
        self, ids: list[list[int]], skipped: tuple[int, int], max_texts: int | None
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """(indices into `ids`, their vectors), batch by batch, longest first; on CUDA out-of-memory
        the token budget halves and the batch runs again."""
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        budget, start = self.batch_tokens, 0
        while start < len(order):
            width = len(ids[order[start]])  # the longest of the batch: sorted longest first
            rows = order[start : start + batch_length(width, budget, max_texts)]
            try:
                vectors = self.embed_ids([ids[i] for i in rows], skipped)
            except torch.cuda.OutOfMemoryError:
                if len(rows) == 1:
                    raise SgptEvalError(f"out of GPU memory encoding one text of {width} tokens; "
                                        "lower --max-length or use --dtype float16") from None
                budget = len(rows) * width // 2
                log.warning("out of GPU memory: token budget halved to %d", budget)
                torch.cuda.empty_cache()
                continue
            yield rows, vectors.cpu().numpy()
            start += len(rows)

    # -- BEIR's interface -----------------------------------------------------------------
    def encode_queries(self, queries: list[str], batch_size: int | None = None, **kwargs) -> np.ndarray | torch.Tensor:
        vectors = self.encode(queries, "query", batch_size, kwargs.get("show_progress_bar", True))
        return torch.from_numpy(vectors) if kwargs.get("convert_to_tensor") else vectors

    def encode_corpus(self, corpus, batch_size: int | None = None, **kwargs) -> np.ndarray | torch.Tensor:
        """`corpus`: a list of {"title", "text"} dicts, a dict of lists, or a list of strings."""
        vectors = self.encode(corpus_texts(corpus), "doc", batch_size, kwargs.get("show_progress_bar", True))
        return torch.from_numpy(vectors) if kwargs.get("convert_to_tensor") else vectors


def default_batch_tokens(device: str) -> int:
    return DEFAULT_BATCH_TOKENS["cpu" if torch.device(device).type == "cpu" else "accelerator"]


def batch_length(width: int, budget: int, max_texts: int | None) -> int:
    """Texts in a batch whose longest has `width` tokens: as many as fit `budget` tokens padded to
    that width, at most `max_texts`, and at least one (a text longer than the budget runs alone)."""
    return max(1, min(budget // max(width, 1), max_texts or budget))


def native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes bfloat16 in hardware; without it torch emulates bfloat16, slower than float32."""
    try:
        flags = set(cpuinfo.read_text().split())
    except OSError:
        return False
    return bool(flags & _BFLOAT16_FLAGS)


def corpus_texts(corpus) -> list[str]:
    if isinstance(corpus, dict):  # columns, as BEIR passes a HF dataset slice
        titles = corpus.get("title") or [""] * len(corpus["text"])
        return [document_text({"title": t, "text": x}) for t, x in zip(titles, corpus["text"])]
    return [doc if isinstance(doc, str) else document_text(doc) for doc in corpus]


def _pad_id(tokenizer) -> int:
    """Any id works for padding (the mask hides it); GPT-2-style tokenizers have no pad token."""
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0
