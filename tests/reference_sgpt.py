"""A plain transcription of the SGPT README's bi-encoder code, kept apart from the package.

It tokenizes each text, inserts the bracket token ids around it, pads with the tokenizer,
runs the model and takes the position-weighted mean exactly as the README's
`get_weightedmean_embedding` does (weights 1..L over the padded width, masked).
"""

from __future__ import annotations

import torch


def tokenize_with_specb(tokenizer, texts: list[str], is_query: bool, max_length: int):
    open_id, close_id = (
        (tokenizer.encode("[", add_special_tokens=False)[0], tokenizer.encode("]", add_special_tokens=False)[0])
        if is_query
        else (tokenizer.encode("{", add_special_tokens=False)[0], tokenizer.encode("}", add_special_tokens=False)[0])
    )
    batch = tokenizer(texts, padding=False, truncation=True, max_length=max_length)
    for seq, att in zip(batch["input_ids"], batch["attention_mask"]):
        seq.insert(0, open_id)
        seq.append(close_id)
        att.insert(0, 1)
        att.append(1)
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer.pad(batch, padding=True, return_tensors="pt")


def weightedmean_embedding(batch, model) -> torch.Tensor:
    with torch.no_grad():
        last_hidden_state = model(**batch, output_hidden_states=True, return_dict=True).last_hidden_state
    weights = (
        torch.arange(start=1, end=last_hidden_state.shape[1] + 1)
        .unsqueeze(0)
        .unsqueeze(-1)
        .expand(last_hidden_state.size())
        .float()
    )
    mask = batch["attention_mask"].unsqueeze(-1).expand(last_hidden_state.size()).float()
    return torch.sum(last_hidden_state * mask * weights, dim=1) / torch.sum(mask * weights, dim=1)
