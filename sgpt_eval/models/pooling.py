"""Turn token states into one vector per text; padding never counts.

`weightedmean` is SGPT's position-weighted mean: in a causal LM only the last tokens have
seen the whole text, so token i of L gets weight i. Weights come from the attention mask,
so the result does not depend on which side the batch was padded.
"""

from __future__ import annotations

import torch

from .presets import POOLINGS


def pool(token_states: torch.Tensor, attention_mask: torch.Tensor, mode: str) -> torch.Tensor:
    """token_states: (batch, length, dim); attention_mask: (batch, length) of 0/1."""
    mask = attention_mask.to(token_states.dtype).unsqueeze(-1)
    if mode == "mean":
        return (token_states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    if mode == "weightedmean":
        positions = attention_mask.cumsum(1).to(token_states.dtype).unsqueeze(-1) * mask  # 1..L on real tokens
        return (token_states * positions).sum(1) / positions.sum(1).clamp(min=1e-9)
    if mode == "lasttoken":
        # The highest position holding a real token, whichever side was padded.
        positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)
        last = (positions * attention_mask).argmax(1)
        return token_states[torch.arange(token_states.shape[0], device=token_states.device), last]
    if mode == "cls":
        first = attention_mask.argmax(1)  # the first real token
        return token_states[torch.arange(token_states.shape[0], device=token_states.device), first]
    raise ValueError(f"unknown pooling '{mode}' (choose from {', '.join(POOLINGS)})")
