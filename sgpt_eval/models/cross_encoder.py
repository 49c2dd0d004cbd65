"""SGPT-CE: a causal language model as a re-ranker (BEIR's `predict(pairs, batch_size)` interface).

The score of (query, document) is log P(query | prompt with the document): the sum of the
query tokens' log-probabilities, not length-normalised (`--aggregate mean` divides it by the
number of query tokens scored, as length-normalised re-rankers do). The SGPT loop runs prompt + query
through the model once per pair and takes log-softmax over every position. Here, with the
same scores:

* each distinct (truncated) prompt runs once, and only the query tokens run on top of it. Where
  the model takes a 4D attention mask and places tokens by position id (Llama, GPT-J, GPT-2;
  probed at load), a prompt's queries are packed into its row, each after the prompt at the
  positions it would have alone and seeing the prompt and itself only. Elsewhere (GPT-Neo's local
  attention, BLOOM's ALiBi) its key/value cache is copied to every query that re-ranks that
  document. A document cut to fit the context loses a number of tokens that depends on the
  query's length, so then only queries of equal length share its prompt;
* the token ids that all prompts of a batch begin with (the instruction, at least) run once and
  their keys and values are copied to every row;
* the vocabulary projection and log-softmax run only at the positions that predict query tokens,
  in float32 even for a half-precision model;
* batches hold rows of similar width (sorted, widest first), padded so that the distances
  between tokens, which local-attention layers (GPT-Neo) look at, are those of the unpadded
  sequence;
* on CUDA out-of-memory the batch size halves and the batch runs again.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import torch

from ..errors import SgptEvalError
from .prompts import Pair, PromptTokenizer
from .score_cache import CachedScorer
from .store import load_pretrained

if TYPE_CHECKING:
    from transformers import DynamicCache

    from .resolution import ResolvedModel

log = logging.getLogger(__name__)

# Config fields of models whose forward rescales the logits after the vocabulary projection,
# which projecting the selected hidden states ourselves would skip.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling")
# Config fields of attention that reaches back a limited number of columns (GPT-Neo's local
# layers, sliding windows, chunked attention): the padding must then stay out of a row's tokens.
_WINDOW_FIELDS = ("window_size", "sliding_window", "attention_chunk_size")
_PAD = 0  # any id: padded positions are masked out
# Prompts batched together differ in length by at most this fraction of the longest: the
# padding is computed like real tokens, so mixing long and short prompts wastes the difference.
_PADDING_SLACK = 0.1

Batch = list[tuple[tuple[int, ...], list[int]]]  # (prompt ids, indices of the pairs that share it)
DEFAULT_BATCH_SIZE = 16


class SGPTCrossEncoder:
    def __init__(self, model: ResolvedModel) -> None:
        """Load the weights of a resolved cross-encoder (`resolution.resolve_model(options, "cross", ...)`)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.perf_counter()
        self.settings, self.device, source = model.settings, model.device, model.source
        trust_remote_code = model.trust_remote_code
        self.batch_size = model.batch_size or DEFAULT_BATCH_SIZE
        self.dtype = self.settings.dtype
        tokenizer = AutoTokenizer.from_pretrained(source.path, trust_remote_code=trust_remote_code)
        self.prompt = PromptTokenizer(tokenizer, self.settings.template, self.settings.max_length)
        try:
            self.model = load_pretrained(AutoModelForCausalLM, source.path, source.name, self.dtype, trust_remote_code)
        except ValueError as exc:
            raise SgptEvalError(
                f"model {source.name}: not a causal language model, AutoModelForCausalLM cannot load it "
                f"({str(exc).splitlines()[0]}); SGPT-CE needs a GPT-style decoder"
            ) from None
        config = self.model.config
        rescaled = [name for name in _LOGIT_TRANSFORMS if getattr(config, name, None) is not None]
        if rescaled:
            raise SgptEvalError(
                f"model {source.name}: rescales its logits ({', '.join(rescaled)}), which SGPT-CE does not support"
            )
        self.model.to(self.device).eval()
        self.body = self.model.base_model
        self.cache_argument = cache_argument(self.body)
        self.lm_head = self.model.get_output_embeddings()
        # A half-precision model projects onto the vocabulary in float32 (only at the query positions).
        weight = self.lm_head.weight
        self.head_weight = None if weight.dtype == torch.float32 else weight.detach().float()
        self.window = attention_window(config)
        self.packed = self.honours_packing()
        self.load_seconds = time.perf_counter() - started
        log.info("cross-encoder %s on %s", self.settings, self.device)

    # -- BEIR's interface -----------------------------------------------------------------
    def predict(
        self, sentences: Sequence[Sequence[str]], batch_size: int | None = None, show_progress_bar: bool = True, **kwargs
    ) -> list[float]:
        """Scores of [query, document] pairs, in order, every pair scored (a run re-ranks through a
        `CachedScorer` with its score cache, which skips the pairs scored before)."""
        return CachedScorer(self).predict(sentences, batch_size, show_progress_bar)

    def scores(self, texts: Sequence[tuple[str, str]], batch_size: int | None = None
               ) -> Iterator[tuple[list[int], list[float]]]:
        """(indices into `texts`, their scores), batch by batch: the `PairScorer` interface."""
        yield from self.score_batches(self.prompt.pairs(list(texts)) if texts else [], batch_size or self.batch_size)

    # -- scoring --------------------------------------------------------------------------
    def score_batches(self, pairs: list[Pair], batch_size: int) -> Iterator[tuple[list[int], list[float]]]:
        """(indices into `pairs`, their scores), one batch at a time, halving the batch on CUDA OOM."""
        pending = set(range(len(pairs)))
        while pending:
            for batch in self.batches(pairs, sorted(pending), batch_size):
                try:
                    values = self.run_batch(batch, pairs)
                except torch.cuda.OutOfMemoryError:
                    if batch_size == 1:
                        raise SgptEvalError(
                            f"out of GPU memory scoring one pair of {max(len(p) for p, _ in batch)} prompt tokens; "
                            "lower --max-length or use --dtype float16"
                        ) from None
                    batch_size //= 2
                    log.warning("out of GPU memory: batch size halved to %d", batch_size)
                    torch.cuda.empty_cache()
                    break
                rows = [i for _, members in batch for i in members]
                pending.difference_update(rows)
                yield rows, values

    def batches(self, pairs: list[Pair], indices: list[int], batch_size: int) -> list[Batch]:
        """Group the pairs by prompt, widest first; at most `batch_size` pairs per batch and widths
        within a few per cent of each other. A prompt's width is its length, or, packed, the length
        of its row (prompt and queries); unpacked, prompt and longest query fit the model's context."""
        by_prompt: dict[tuple[int, ...], list[int]] = {}
        for i in indices:
            by_prompt.setdefault(pairs[i].prefix, []).append(i)
        chunks = []
        for prefix, members in by_prompt.items():
            members.sort(key=lambda i: -len(pairs[i].query))
            chunks += [(prefix, members[start:start + batch_size]) for start in range(0, len(members), batch_size)]

        def width(prefix: tuple[int, ...], members: list[int]) -> int:
            return len(prefix) - 1 + sum(len(pairs[i].query) for i in members) if self.packed else len(prefix)

        chunks.sort(key=lambda chunk: (-width(*chunk), -len(pairs[chunk[1][0]].query)))
        batches: list[Batch] = []
        rows = longest_query = widest = 0
        for prefix, members in chunks:
            query = max(longest_query, len(pairs[members[0]].query))
            fits = (rows + len(members) <= batch_size and width(prefix, members) >= (1 - _PADDING_SLACK) * widest
                    and (self.packed or widest - 1 + query <= self.prompt.max_length))
            if batches and fits:
                batches[-1].append((prefix, members))
                rows, longest_query = rows + len(members), query
            else:
                batches.append([(prefix, members)])
                rows, longest_query, widest = len(members), len(pairs[members[0]].query), width(prefix, members)
        return batches

    @torch.inference_mode()
    def run_batch(self, batch: Batch, pairs: list[Pair]) -> list[float]:
        """Each pair's query log-probability, summed (or averaged over its query tokens with
        aggregate "mean"), from the hidden states at the positions that predict query tokens."""
        rows = [pairs[i] for _, members in batch for i in members]
        selected = (self.packed_states if self.packed else self.copied_cache_states)(batch, rows)
        logprobs = torch.log_softmax(self.project(selected), dim=-1)
        targets = torch.tensor([token for pair in rows for token in pair.query], device=self.device)
        token_scores = logprobs.gather(1, targets[:, None]).squeeze(1)
        lengths = torch.tensor([len(pair.query) for pair in rows], device=self.device)
        sums = torch.zeros(len(rows), device=self.device).index_add_(
            0, torch.repeat_interleave(torch.arange(len(rows), device=self.device), lengths), token_scores
        )
        return (sums / lengths if self.settings.aggregate == "mean" else sums).tolist()

    def packed_states(self, batch: Batch, rows: list[Pair]) -> torch.Tensor:
        """One row per prompt: the prompt (less its last token), then one segment per query (that
        last token and the query less its own last), each at the positions it would have alone
        and seeing the prompt and itself only. The prompt runs once, with no cache copied and no
        padding per query; the token ids every prompt of the batch begins with run once, batch 1."""
        prompts = [prefix[:-1] for prefix, _ in batch]
        shared = _common_prefix_length(prompts) if len(prompts) > 1 else 0
        queries = iter(pair.query for pair in rows)
        layout = [packed_row(prefix, [next(queries) for _ in members], shared) for prefix, members in batch]
        width = max(len(ids) for ids, _, _ in layout)
        ids = torch.full((len(layout), width), _PAD, dtype=torch.long)
        positions = torch.zeros((len(layout), width), dtype=torch.long)
        segments = torch.full((len(layout), width), -1, dtype=torch.long)
        for r, (row_ids, row_positions, row_segments) in enumerate(layout):
            ids[r, :len(row_ids)] = torch.tensor(row_ids)
            positions[r, :len(row_ids)] = torch.tensor(row_positions)
            segments[r, :len(row_ids)] = torch.tensor(row_segments)
        cache = None
        if shared:
            cache = self.instruction_cache(prompts[0][:shared])
            cache.batch_repeat_interleave(len(layout))
        segments = segments.to(self.device)
        hidden = self.forward(cache, input_ids=ids.to(self.device), attention_mask=self.packing_mask(segments, shared),
                              position_ids=positions.to(self.device))
        return hidden[segments > 0]  # row by row, segment by segment: the order of the pairs

    def packing_mask(self, segments: torch.Tensor, shared: int) -> torch.Tensor:
        """The (rows x 1 x width x shared + width) additive mask of packed rows (segments: -1 padding,
        0 the prompt, k the k-th query): a token sees the shared instruction and the earlier tokens
        of the prompt and of its own segment; padding sees itself too (a row that sees nothing is NaN)."""
        width = segments.shape[1]
        keys, queries = segments[:, None, :], segments[:, :, None]
        seen = (keys >= 0) & ((keys == 0) | (keys == queries))
        seen &= torch.ones(width, width, dtype=torch.bool, device=segments.device).tril()
        seen |= torch.eye(width, dtype=torch.bool, device=segments.device)
        seen = torch.cat([seen.new_ones(len(segments), width, shared), seen], dim=2)
        dtype = self.model.dtype
        blocked = torch.zeros(seen.shape, dtype=dtype, device=segments.device)
        return blocked.masked_fill_(~seen, torch.finfo(dtype).min)[:, None]

    @torch.inference_mode()
    def honours_packing(self) -> bool:
        """Whether packed rows score as separate ones would: the model must apply a 4D mask as
        given (GPT-Neo adds its own causal one) and place tokens by position_ids, not by column
        (local attention, BLOOM's ALiBi). A query segment's states must not move when the segment
        before it changes, and must move when its positions do."""
        if self.window is not None:
            return False

        def states(first: tuple[int, ...], shift: int = 0) -> torch.Tensor:
            ids, positions, segments = map(torch.tensor, packed_row((1, 2, 3), [first, (4, 5, 6)], 0))
            positions[segments == 2] += shift
            hidden = self.body(input_ids=ids[None].to(self.device), position_ids=positions[None].to(self.device),
                               attention_mask=self.packing_mask(segments[None].to(self.device), 0)).last_hidden_state
            return hidden[0, (segments == 2).to(self.device)]

        try:
            alone = states((7, 8, 9))
            honoured = torch.equal(alone, states((10, 11, 12))) and not torch.equal(alone, states((7, 8, 9), shift=2))
        except (RuntimeError, TypeError, ValueError) as exc:  # a model that refuses a 4D mask
            log.info("cross-encoder: no packed rows, the model refuses them (%s)", str(exc).splitlines()[0])
            return False
        if not honoured:
            log.info("cross-encoder: no packed rows, the model overrides a 4D mask or ignores position ids")
        return honoured

    def copied_cache_states(self, batch: Batch, rows: list[Pair]) -> torch.Tensor:
        """Run each prompt once (all but its last token, into the key/value cache), then every
        query on a copy of its prompt's cache, one row per pair."""
        cache, prompt_mask = self.prompt_cache([prefix[:-1] for prefix, _ in batch])
        owner = [g for g, (_, members) in enumerate(batch) for _ in members]
        if owner != list(range(len(batch))):  # some prompt has several queries: one copy of its cache each
            cache.batch_select_indices(torch.tensor(owner, device=self.device))
        length = max(len(pair.query) for pair in rows)
        ids = torch.full((len(rows), length), _PAD, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        positions = torch.zeros((len(rows), length), dtype=torch.long)
        for r, pair in enumerate(rows):
            n = len(pair.query)
            ids[r, :n] = torch.tensor((pair.prefix[-1], *pair.query[:-1]))
            mask[r, :n] = 1
            positions[r] = torch.arange(len(pair.prefix) - 1, len(pair.prefix) - 1 + length)
        full_mask = torch.cat([prompt_mask[owner], mask], dim=1)
        hidden = self.forward(cache, input_ids=ids.to(self.device), attention_mask=full_mask.to(self.device),
                              position_ids=positions.to(self.device))
        return hidden[mask.to(self.device).bool()]  # row by row: the order of the pairs

    def forward(self, cache: DynamicCache | None, **inputs: torch.Tensor) -> torch.Tensor:
        """The body's last hidden states, extending `cache` when one is given."""
        return self.body(**inputs, **{self.cache_argument: cache}, use_cache=cache is not None).last_hidden_state

    def instruction_cache(self, ids: tuple[int, ...]) -> DynamicCache:
        """The key/value cache of token ids that every prompt of a batch begins with, run once, batch 1."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        self.forward(cache, input_ids=torch.tensor([ids], device=self.device),
                     position_ids=torch.arange(len(ids), device=self.device)[None])
        return cache

    def prompt_cache(self, prompts: list[tuple[int, ...]]) -> tuple[DynamicCache, torch.Tensor]:
        """The key/value cache of a batch of prompts and its attention mask (prompts x width).

        The longest run of token ids that every prompt begins with (the instruction, at least)
        runs once, batch 1, and its keys and values are copied into each row. A row is laid out
        [instruction, padding, rest] when the model attends to every earlier token, and
        [padding, instruction, rest] (SGPT's unpadded distances) when it has local attention, whose
        reach is counted in columns; there only the columns before the longest row's rest are
        copied rather than computed, the others run with the rest."""
        from transformers import DynamicCache

        width = max(map(len, prompts))
        shared = _common_prefix_length(prompts) if len(prompts) > 1 else 0
        if self.window is not None:
            shared = min(shared, self.window - 1)  # a sliding-window cache would keep only its last tokens
        head = shared if self.window is None else 0  # the tokens placed before the padding
        ids = torch.full((len(prompts), width), _PAD, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        positions = torch.zeros((len(prompts), width), dtype=torch.long)
        for g, prompt in enumerate(prompts):
            columns = [*range(head), *range(width - len(prompt) + head, width)]
            ids[g, columns] = torch.tensor(prompt, dtype=torch.long)
            mask[g, columns] = 1
            positions[g, columns] = torch.arange(len(prompt))
        cache = DynamicCache(config=self.model.config)
        if shared:
            instruction = self.instruction_cache(prompts[0][:shared])
            # Column j of a row holds the instruction token at its position there (padding reads token 0, masked).
            index = positions[:, :shared].to(self.device)
            for number, layer in enumerate(instruction.layers):
                cache.update(layer.keys[0][:, index].transpose(0, 1), layer.values[0][:, index].transpose(0, 1), number)
        if width > shared:
            self.forward(cache, input_ids=ids[:, shared:].to(self.device), attention_mask=mask.to(self.device),
                         position_ids=positions[:, shared:].to(self.device))
        return cache, mask

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        """Vocabulary logits in float32, whatever the model's dtype: half-precision logits would
        round each token's log-probability by up to a few hundredths."""
        if self.head_weight is None:
            return self.lm_head(hidden).float()
        bias = getattr(self.lm_head, "bias", None)
        return torch.nn.functional.linear(hidden.float(), self.head_weight, None if bias is None else bias.float())


def packed_row(prefix: tuple[int, ...], queries: list[tuple[int, ...]], start: int
               ) -> tuple[list[int], list[int], list[int]]:
    """A packed row from column `start` of the prompt on: its token ids, their positions, and
    their segments (0 the prompt, k the k-th query)."""
    ids, positions = list(prefix[start:-1]), list(range(start, len(prefix) - 1))
    segments = [0] * len(ids)
    for k, query in enumerate(queries, 1):
        ids += (prefix[-1], *query[:-1])
        positions += range(len(prefix) - 1, len(prefix) - 1 + len(query))
        segments += [k] * len(query)
    return ids, positions, segments


def _common_prefix_length(prompts: list[tuple[int, ...]]) -> int:
    """How many leading token ids all prompts share."""
    first, length = prompts[0], min(map(len, prompts))
    for prompt in prompts[1:]:
        length = next((i for i in range(length) if prompt[i] != first[i]), length)
    return length


def cache_argument(body: torch.nn.Module) -> str:
    """The name the model's forward takes its key/value cache under: `cache` in recent transformers,
    which deprecate the older `past_key_values`, else `past_key_values`."""
    return "cache" if "cache" in inspect.signature(body.forward).parameters else "past_key_values"


def attention_window(config) -> int | None:
    """The smallest number of columns an attention layer of this model reaches back, or None when
    every layer sees the whole sequence (then padding anywhere in a row changes nothing)."""
    windows = [getattr(config, name, None) for name in _WINDOW_FIELDS]
    windows = [w for w in windows if isinstance(w, int) and w > 0]
    return min(windows) if windows else None
