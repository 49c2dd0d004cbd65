"""The command line against the stand-in hub, in a subprocess (HF_ENDPOINT and HF_HUB_CACHE are read
when huggingface_hub is imported): a preset evaluates with no extra flag and records the hub
commit, runs again offline without a request, and a small paper grid runs through `sgpt-eval
paper` (`make paper`'s command) from a config to the paper's tables, its dataset downloaded as a
zip with its MD5 checked, a gated model skipped in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ...beir_fixtures import zip_dataset
from .conftest import GATED, GPT_J, MSMARCO, hub_env, run_cli



def _scifact_slice(source: Path, target: Path, queries: int = 5, extra_docs: int = 40) -> Path:
    """The first judged test queries of real SciFact, their relevant documents and the first others."""
    lines = (source / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    judged: dict[str, list[str]] = {}
    for line in lines[1:]:
        query, doc, _ = line.split("\t")
        if query in judged or len(judged) < queries:
            judged.setdefault(query, []).append(doc)
    kept = [line for line in lines[1:] if line.split("\t")[0] in judged]
    wanted = {doc for docs in judged.values() for doc in docs}
    (target / "qrels").mkdir(parents=True)
    (target / "qrels" / "test.tsv").write_text("\n".join([lines[0], *kept]) + "\n", encoding="utf-8")
    with open(source / "corpus.jsonl", encoding="utf-8") as corpus, open(target / "corpus.jsonl", "w") as out:
        for i, line in enumerate(corpus):
            if i < extra_docs or json.loads(line)["_id"] in wanted:
                out.write(line)
    with open(source / "queries.jsonl", encoding="utf-8") as queries_in, open(target / "queries.jsonl", "w") as out:
        out.writelines(line for line in queries_in if json.loads(line)["_id"] in judged)
    return target


def _report(folder: Path) -> dict:
    (path,) = folder.glob("beir/scifact/*/*.json")
    return json.loads(path.read_text())


def test_a_preset_evaluates_records_the_commit_and_runs_again_offline_without_a_request(hub, scifact_dir, tmp_path):
    data = tmp_path / "data"
    _scifact_slice(scifact_dir / "scifact", data / "scifact")
    env = hub_env(hub, tmp_path)
    command = ["eval", "--dataset", "scifact", "--model", "SGPT-125M-weightedmean-msmarco-specb-bitfit",
               "--data-dir", str(data), "--no-cache", "--threads", "1", "-q"]
    online = run_cli(env, [*command, "--output-dir", str(tmp_path / "online")])
    assert online.returncode == 0, online.stderr
    report = _report(tmp_path / "online")
    assert report["identity"]["model"]["revision"] == hub.repos[MSMARCO.lower()].revisions["main"]
    assert [(r.method, r.path.rsplit("name=", 1)[-1]) for r in hub.log("storage")] == [("GET", "pytorch_model.bin")]
    hub.requests.clear()
    offline = run_cli(hub_env(hub, tmp_path, offline=True), [*command, "--output-dir", str(tmp_path / "offline")])
    assert offline.returncode == 0, offline.stderr
    assert hub.log() == []
    again = _report(tmp_path / "offline")
    assert (again["identity"], again["digest"]) == (report["identity"], report["digest"])
    assert again["metrics"]["NDCG@10"] == report["metrics"]["NDCG@10"]


GRID = """
datasets = ["scifact"]

[[runs]]
method = "bm25"

[[runs]]
method = "dense"
model = "SGPT-125M-weightedmean-msmarco-specb-bitfit"

[[runs]]
method = "dense"
model = "SGPT-BLOOM-7B1-msmarco"

[[runs]]
method = "rerank"
model = "SGPT-CE-GPT-J-6B"
top_k = 10

# Gated: no token here, so one `skipped:` line and the rest runs.
[[runs]]
method = "dense"
model = "meta-llama/Llama-2-7b-hf"
"""


def test_a_small_paper_grid_runs_from_its_config_to_the_three_tables(hub, scifact_dir, file_server, tmp_path):
    root, url = file_server
    source = _scifact_slice(scifact_dir / "scifact", tmp_path / "slice" / "scifact")
    # BEIR publishes the MD5 of its own zip; this one's is published to the run the same way.
    md5 = zip_dataset(source, root / "scifact.zip", "scifact")
    config = tmp_path / "grid.toml"
    config.write_text(GRID)
    results = tmp_path / "results"
    tables = results / "tables"
    env = {**hub_env(hub, tmp_path), "SGPT_EVAL_BEIR_URL": url}
    result = run_cli(env, ["paper", "--config", str(config), "--data-dir", str(tmp_path / "data"),
                           "--useb-data-dir", str(tmp_path / "no-useb"), "--output-dir", str(results),
                           "--threads", "1", "-q"],
                     beir_md5={"scifact": md5})
    assert result.returncode == 0, result.stderr
    (skipped,) = [line for line in result.stderr.splitlines() if "skipped:" in line]
    assert f"model '{GATED}': a gated repository" in skipped and "HF_TOKEN" in skipped, result.stderr
    assert (tmp_path / "data" / "scifact" / "corpus.jsonl").read_bytes() == (source / "corpus.jsonl").read_bytes()
    reports = {}
    for path in results.glob("beir/scifact/*/*.json"):
        report = json.loads(path.read_text())
        reports[(report["identity"]["model"] or {"model": "bm25"})["model"]] = report
    assert sorted(reports) == ["SGPT-125M-weightedmean-msmarco-specb-bitfit", "SGPT-BLOOM-7B1-msmarco",
                               "SGPT-CE-GPT-J-6B", "bm25"]
    float16 = hub.repos[GPT_J.lower()].revisions["float16"]
    assert reports["SGPT-CE-GPT-J-6B"]["identity"]["model"]["revision"] == float16
    be, ce = (tables / "beir_ndcg10-be.md").read_text(), (tables / "beir_ndcg10-ce.md").read_text()
    scifact_be = next(line for line in be.splitlines() if line.lower().startswith("| scifact"))
    for name in ("SGPT-125M-weightedmean-msmarco-specb-bitfit", "SGPT-BLOOM-7B1-msmarco", "bm25"):
        assert f"| {reports[name]['metrics']['NDCG@10']:.4f} [" in scifact_be, (name, scifact_be)
    scifact_ce = next(line for line in ce.splitlines() if line.lower().startswith("| scifact"))
    assert f"| {reports['SGPT-CE-GPT-J-6B']['metrics']['NDCG@10']:.4f} [" in scifact_ce, scifact_ce
    assert (tables / "useb.md").is_file()
