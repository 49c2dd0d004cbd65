"""Tiny random models in the layouts of the SGPT hub repositories, as file name -> bytes.

The layouts follow the real repositories file for file (config values made tiny); the GPT-2 BPE is
the real one. BLOOM's tokenizer cannot be had offline, so its repository carries a byte-level BPE
trained here on a few sentences, with BLOOM's special tokens and settings (left padding, no
`model_max_length`): the same kind of tokenizer.json, not BLOOM's vocabulary.
"""

from __future__ import annotations

import functools
import io
import json
import os
import tempfile
from pathlib import Path

import torch

HIDDEN = 32


def _json(value) -> bytes:
    return json.dumps(value, indent=2).encode()


def _saved(model, safetensors: bool, max_shard_size: str | None = None) -> dict[str, bytes]:
    """What `save_pretrained` writes (weights and config), as files."""
    with tempfile.TemporaryDirectory() as folder:
        options = {"max_shard_size": max_shard_size} if max_shard_size else {}
        if safetensors:
            model.save_pretrained(folder, **options)
        else:  # the pickle checkpoints of 2022: one pytorch_model.bin of the state dict
            model.config.save_pretrained(folder)
            torch.save(model.state_dict(), Path(folder) / "pytorch_model.bin")
        return {path.name: path.read_bytes() for path in Path(folder).iterdir()}


def pickled(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


@functools.lru_cache(maxsize=None)
def _tokenizer_json(tokenizer_dir: Path, added: tuple[str, ...]) -> bytes:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.add_tokens(list(added))
    with tempfile.TemporaryDirectory() as folder:
        tokenizer.save_pretrained(folder)
        return (Path(folder) / "tokenizer.json").read_bytes()


def gpt2_tokenizer_files(tokenizer_dir: Path, added: dict[str, int] | None, pad: bool) -> dict[str, bytes]:
    """The GPT-2 BPE files an SGPT repository holds (vocab.json, merges.txt, tokenizer.json, ...)."""
    tokenizer_json = _tokenizer_json(tokenizer_dir, tuple(added or ()))
    config = {"tokenizer_class": "GPT2Tokenizer", "model_max_length": 2048, "bos_token": "<|endoftext|>",
              "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "add_prefix_space": False}
    if not pad:
        config.update(pad_token=None, add_bos_token=False)
    files = {"vocab.json": (tokenizer_dir / "vocab.json").read_bytes(),
             "merges.txt": (tokenizer_dir / "merges.txt").read_bytes(),
             "tokenizer.json": tokenizer_json, "tokenizer_config.json": _json(config),
             "special_tokens_map.json": _json({"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
                                               "unk_token": "<|endoftext|>",
                                               **({"pad_token": "<|endoftext|>"} if pad else {})})}
    if added:
        files["added_tokens.json"] = _json(added)
    return files


def _gpt_neo(vocab_size: int, seed: int):
    from transformers import GPTNeoConfig, GPTNeoModel

    torch.manual_seed(seed)
    config = GPTNeoConfig(vocab_size=vocab_size, hidden_size=HIDDEN, num_layers=2, num_heads=4,
                          attention_types=[[["global", "local"], 1]], max_position_embeddings=2048, window_size=256)
    return GPTNeoModel(config).eval()


def _pooling(mode: str) -> bytes:
    flags = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")
    return _json({"word_embedding_dimension": HIDDEN, **{f"pooling_mode_{flag}": flag == mode for flag in flags}})


def _modules(*modules: tuple[str, str]) -> bytes:
    return _json([{"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
                  for i, (path, kind) in enumerate(modules)])


def _st_common(max_seq_length: int) -> dict[str, bytes]:
    return {".gitattributes": b"*.bin filter=lfs diff=lfs merge=lfs -text\n", "README.md": b"# SGPT\n",
            "config_sentence_transformers.json": _json({"__version__": {"sentence_transformers": "2.1.0"}}),
            "sentence_bert_config.json": _json({"max_seq_length": max_seq_length, "do_lower_case": False})}


def sgpt_msmarco(tokenizer_dir: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit: (main, refs/pr/4). main holds
    pytorch_model.bin only; the conversion pull request adds model.safetensors beside it."""
    added = {"[SOS]": 50257, "{SOS}": 50258}
    model = _gpt_neo(50259, seed=1)
    main = {**_st_common(300), **gpt2_tokenizer_files(tokenizer_dir, added, pad=True), **_saved(model, False),
            "1_Pooling/config.json": _pooling("weightedmean_tokens"),
            "modules.json": _modules(("", "Transformer"), ("1_Pooling", "Pooling")),
            "evaluation/beir.json": _json({"scifact": {"NDCG@10": 0.0}})}
    converted = {**main, "model.safetensors": _saved(model, True)["model.safetensors"]}
    return main, converted


def sgpt_nli(tokenizer_dir: Path) -> dict[str, bytes]:
    """Muennighoff/SGPT-125M-weightedmean-nli-bitfit: no added tokens, no pad token, pickle weights."""
    return {**_st_common(75), **gpt2_tokenizer_files(tokenizer_dir, None, pad=False),
            **_saved(_gpt_neo(50257, seed=2), False),
            "1_Pooling/config.json": _pooling("weightedmean_tokens"),
            "modules.json": _modules(("", "Transformer"), ("1_Pooling", "Pooling")),
            "eval/similarity_evaluation_sts-dev_results.csv": b"epoch,steps,cosine_pearson\n"}


def sgpt_linearthenpool5(tokenizer_dir: Path) -> dict[str, bytes]:
    """Muennighoff/SGPT-125M-mean-nli-linearthenpool5: five Dense folders on the token embeddings
    (each config.json + pytorch_model.bin), then mean pooling in 6_Pooling."""
    files = {**_st_common(75), **gpt2_tokenizer_files(tokenizer_dir, None, pad=True),
             **_saved(_gpt_neo(50257, seed=3), False), "6_Pooling/config.json": _pooling("mean_tokens"),
             "modules.json": _modules(("", "Transformer"), *((f"{i}_Dense", "Dense") for i in range(1, 6)),
                                      ("6_Pooling", "Pooling"))}
    for i in range(1, 6):
        linear = torch.nn.Linear(HIDDEN, HIDDEN)
        files[f"{i}_Dense/config.json"] = _json({"in_features": HIDDEN, "out_features": HIDDEN, "bias": True,
                                                 "activation_function": "torch.nn.modules.activation.GELU",
                                                 "key_name": "token_embeddings"})
        files[f"{i}_Dense/pytorch_model.bin"] = pickled({f"linear.{k}": v for k, v in linear.state_dict().items()})
    return files


def bloom_tokenizer_files(texts: list[str]) -> dict[str, bytes]:
    """A byte-level BPE trained here, saved as BLOOM's repository saves its tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    config = {"tokenizer_class": "BloomTokenizer", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>",
              "pad_token": "<pad>", "padding_side": "left", "add_prefix_space": False}
    return {"tokenizer.json": tokenizer.to_str().encode(), "tokenizer_config.json": _json(config),
            "special_tokens_map.json": _json({k: config[k] for k in ("unk_token", "bos_token", "eos_token",
                                                                     "pad_token")})}


def sgpt_bloom(texts: list[str]) -> dict[str, bytes]:
    """bigscience/sgpt-bloom-7b1-msmarco: three shards each as .bin and .safetensors, both indexes."""
    from safetensors.torch import save
    from transformers import BloomConfig, BloomModel

    torch.manual_seed(4)
    model = BloomModel(BloomConfig(vocab_size=400, hidden_size=HIDDEN, n_layer=3, n_head=4)).eval()
    state = model.state_dict()
    names = list(state)
    files, maps = {}, {"safetensors": {}, "bin": {}}
    for i, part in enumerate((names[: len(names) // 3], names[len(names) // 3: 2 * len(names) // 3],
                              names[2 * len(names) // 3:]), start=1):
        tensors = {name: state[name].contiguous() for name in part}
        for kind, stem, data in (("safetensors", "model", save(tensors, {"format": "pt"})),
                                 ("bin", "pytorch_model", pickled(tensors))):
            file = f"{stem}-{i:05d}-of-00003.{kind}"
            files[file] = data
            maps[kind].update({name: file for name in part})
    size = sum(t.numel() * t.element_size() for t in state.values())
    with tempfile.TemporaryDirectory() as folder:
        model.config.save_pretrained(folder)
        files["config.json"] = (Path(folder) / "config.json").read_bytes()
    return {**files, "model.safetensors.index.json": _json({"metadata": {"total_size": size},
                                                            "weight_map": maps["safetensors"]}),
            "pytorch_model.bin.index.json": _json({"metadata": {"total_size": size}, "weight_map": maps["bin"]}),
            **bloom_tokenizer_files(texts), "1_Pooling/config.json": _pooling("weightedmean_tokens"),
            "modules.json": _modules(("", "Transformer"), ("1_Pooling", "Pooling")),
            "evaluation/beir.json": _json({}), ".gitattributes": b"*.bin filter=lfs diff=lfs merge=lfs -text\n"}


def gpt_j(tokenizer_dir: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """EleutherAI/gpt-j-6B: (main with safetensors, float16 with a float16 pytorch_model.bin only)."""
    from transformers import GPTJConfig, GPTJForCausalLM

    torch.manual_seed(5)
    config = GPTJConfig(vocab_size=50400, n_embd=HIDDEN, n_layer=2, n_head=4, rotary_dim=4, n_positions=2048)
    model = GPTJForCausalLM(config).eval()
    tokenizer = gpt2_tokenizer_files(tokenizer_dir, None, pad=True)
    main = {**tokenizer, **_saved(model, True)}
    half = {**tokenizer, **_saved(model.half(), False), "rust_model.ot": os.urandom(64),
            "added_tokens.json": _json({f"<|extratoken_{i}|>": 50257 + i for i in range(1, 144)})}
    return main, half


def malicious_checkpoint(model_files: dict[str, bytes], marker: Path) -> dict[str, bytes]:
    """`model_files` with a pytorch_model.bin whose unpickling would create `marker`."""

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    return {**model_files, "pytorch_model.bin": pickled({"payload": Payload()})}
