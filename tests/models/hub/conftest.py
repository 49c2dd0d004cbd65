"""The stand-in hub with the SGPT repositories, for in-process tests (huggingface_hub's constants
patched) and for the command line in a subprocess (HF_ENDPOINT and HF_HUB_CACHE set)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from . import repos
from .server import HubStandIn

MSMARCO = "Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit"
NLI = "Muennighoff/SGPT-125M-weightedmean-nli-bitfit"
LINEAR5 = "Muennighoff/SGPT-125M-mean-nli-linearthenpool5"
BLOOM = "bigscience/sgpt-bloom-7b1-msmarco"
GPT_J = "EleutherAI/gpt-j-6B"
GATED = "meta-llama/Llama-2-7b-hf"
REPO = Path(__file__).resolve().parents[3]
CHUNK = 1 << 16


@pytest.fixture(scope="session")
def hub_repos(gpt2_tokenizer) -> dict[tuple[str, str], dict[str, bytes]]:
    """(repository, revision) -> files, built once per session."""
    tokenizer_dir = Path(gpt2_tokenizer.name_or_path)
    main, pr4 = repos.sgpt_msmarco(tokenizer_dir)
    gpt_j_main, gpt_j_half = repos.gpt_j(tokenizer_dir)
    sentences = ["Retrieval models rank documents for a query: [ ] { } brackets, cells and energy."] * 20
    return {(MSMARCO, "main"): main, (MSMARCO, "refs/pr/4"): pr4, (NLI, "main"): repos.sgpt_nli(tokenizer_dir),
            (LINEAR5, "main"): repos.sgpt_linearthenpool5(tokenizer_dir), (BLOOM, "main"): repos.sgpt_bloom(sentences),
            (GPT_J, "main"): gpt_j_main, (GPT_J, "float16"): gpt_j_half, (GATED, "main"): gpt_j_main}


@pytest.fixture
def hub(hub_repos):
    stand_in = HubStandIn()
    for (repo_id, revision), files in hub_repos.items():
        stand_in.add(repo_id, files, revision, gated=repo_id == GATED)
    yield stand_in
    stand_in.close()


@pytest.fixture
def hub_here(hub, tmp_path, monkeypatch):
    """huggingface_hub in this process pointed at the stand-in, with an empty cache."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # The client writes what it receives in chunks of 10 MB and resumes from the last whole chunk;
    # the tiny models' files are smaller, so chunks of 64 KiB let a cut file resume mid-way.
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", CHUNK)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no stored token
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return hub


def hub_env(hub: HubStandIn, folder: Path, offline: bool = False) -> dict[str, str]:
    """The environment of a command-line run against the stand-in (both variables are read when
    huggingface_hub is imported, hence a subprocess)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(folder / "hf-cache"), HF_HOME=str(folder / "hf-home"),
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", HF_HUB_DISABLE_TELEMETRY="1",
               SGPT_EVAL_CACHE=str(folder / "cache"), PYTHONPATH=str(REPO))
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def run_cli(env: dict[str, str], *commands: list[str], beir_md5: dict[str, str] | None = None):
    """Run `sgpt-eval` commands one after the other in one Python process (imports paid once);
    `beir_md5` stands in for BEIR's published checksums of datasets served by a test server."""
    import subprocess

    script = ("import dataclasses, json, sys\n"
              "from sgpt_eval.data.catalogue import CATALOGUE\n"
              "for name, md5 in json.loads(sys.argv[1]).items():\n"
              "    CATALOGUE[name] = dataclasses.replace(CATALOGUE[name], md5=md5)\n"
              "from sgpt_eval.cli import main\n"
              "for argv in json.loads(sys.argv[2]):\n"
              "    code = main(argv)\n"
              "    if code:\n"
              "        sys.exit(code)\n")
    return subprocess.run([sys.executable, "-c", script, json.dumps(beir_md5 or {}), json.dumps(list(commands))],
                          env=env, capture_output=True, text=True, timeout=300)
