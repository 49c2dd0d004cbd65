"""The SGPT README's cross-encoder loop, pair by pair: the yardstick for the fast scorer.

One forward pass over prompt + query[:-1], log-softmax over every position and the whole
vocabulary, then the log-probabilities of the query tokens gathered and summed. It uses the
same `PromptTokenizer` as the fast path, so that both score exactly the same token ids.
"""

from __future__ import annotations

import torch

from sgpt_eval.models.prompts import PromptTokenizer


@torch.inference_mode()
def reference_scores(model, prompt: PromptTokenizer, pairs: list[tuple[str, str]], device: str = "cpu") -> list[float]:
    scores = []
    for pair in prompt.pairs(pairs):
        ids = [*pair.prefix, *pair.query]
        logits = model(torch.tensor([ids[:-1]], device=device)).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)[0, len(pair.prefix) - 1:]
        query = torch.tensor(pair.query, device=device)
        scores.append(float(logprobs.gather(1, query[:, None]).sum()))
    return scores
