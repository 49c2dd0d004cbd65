"""`sgpt-eval plan`: counts, tokens, FLOPs and sizes checked against independent computations on a
tiny dataset and the tiny GPT-Neo; unreachable models and datasets are one note each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.data.beir import document_text
from sgpt_eval.data.catalogue import CATALOGUE
from sgpt_eval.models.presets import PRESETS
from sgpt_eval.evaluation.workload import TOKENS_PER_WORD, count_lines, sample_documents
from sgpt_eval.models.prompts import TEMPLATES
from sgpt_eval.reports.schema import Report, write_report
from sgpt_eval.retrieval.ranking import write_trec

from ..beir_fixtures import DOCS, QUERIES, write_beir
from ..synthetic_reports import identity

MISSING = "someone/no-such-model"  # a hub id that is not on disk, the hub not asked


@pytest.fixture
def toy(tmp_path) -> Path:
    write_beir(tmp_path / "data" / "toy")
    return tmp_path


def _plan(toy: Path, *argv: str) -> tuple[int, dict | None]:
    out = toy / "plan.json"
    code = main(["plan", "--data-dir", str(toy / "data"), "--cache-dir", str(toy / "cache"), "--json", str(out), *argv])
    return code, json.loads(out.read_text()) if out.exists() else None


def _config(toy: Path, text: str) -> str:
    path = toy / "runs.toml"
    path.write_text(text)
    return str(path)


def _non_embedding(folder: Path) -> int:
    """The tiny model's parameters less its token and position embeddings, counted on the real weights."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(folder)
    embeddings = model.wte.weight.numel() + model.wpe.weight.numel()
    return sum(p.numel() for p in model.parameters()) - embeddings


def test_dense_counts_tokens_flops_and_size(toy, tiny_gpt_neo, gpt2_tokenizer, capsys):
    config = _config(toy, f'datasets = ["toy"]\n[[runs]]\nmethod = "dense"\nmodel = "{tiny_gpt_neo}"\nspecb = true\n')
    code, plan = _plan(toy, "--config", config)
    assert code == 0
    (row,) = plan["runs"]
    assert (row["documents"], row["queries"]) == (len(DOCS), len(QUERIES))
    # The sample covers the whole corpus, so the count is exact: each text's tokens plus the 2 brackets.
    docs = sum(len(gpt2_tokenizer(document_text({"title": t, "text": x}))["input_ids"]) + 2 for t, x in DOCS.values())
    queries = sum(len(gpt2_tokenizer(text)["input_ids"]) + 2 for text in QUERIES.values())
    assert (row["document_tokens"], row["query_tokens"], row["tokens"]) == (docs, queries, docs + queries)
    params = _non_embedding(tiny_gpt_neo)
    assert row["non_embedding_parameters"] == params
    assert row["flops"] == 2 * params * (docs + queries)
    assert row["embedding_bytes"] == len(DOCS) * 64 * 4  # float32 vectors of the hidden size
    assert row["device_hours"] == pytest.approx((docs + queries) / (1e14 / (2 * params)) / 3600)
    assert plan["totals"]["tokens"] == docs + queries
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["dataset", "method", "model", "documents", "queries", "tokens", "params",
                                           "FLOPs", "embeddings", "pairs", "device-h"]
    assert "assumed 1e+14 FLOP/s" in out


@pytest.mark.parametrize("as_report", [False, True])
def test_rerank_shares_each_documents_prompt(toy, tiny_gpt_neo, gpt2_tokenizer, as_report):
    """Pairs and distinct documents come from the first stage (here a ranking file, or a report: its
    ranking): each distinct document's prompt counts once, each pair's query once."""
    first = {"q1": {"d1": 3.0, "d2": 2.0}, "q2": {"d2": 3.0, "d3": 1.0}, "q3": {"d3": 1.0}}
    if as_report:
        report = Report(identity("toy", "bm25", "bm25s", split="test"), "NDCG@10", {"NDCG@10": 0.5}, {}, {}, {})
        run_file = write_report(report, toy / "results", first)
    else:
        run_file = toy / "first.trec"
        write_trec(run_file, first, "x")
    config = _config(toy, f'datasets = ["toy"]\n[[runs]]\nmethod = "rerank"\nmodel = "{tiny_gpt_neo}"\n'
                          f'first_stage = "{run_file}"\ntop_k = 2\n')
    code, plan = _plan(toy, "--config", config, "--throughput", "1000")
    assert code == 0
    (row,) = plan["runs"]
    assert (row["pairs"], row["distinct_documents"]) == (5, 3)
    prompts = [len(gpt2_tokenizer(TEMPLATES["asymmetric"].replace("{doc}", document_text({"title": t, "text": x})),
                                  add_special_tokens=False)["input_ids"]) for t, x in DOCS.values()]
    assert row["document_tokens"] == round(sum(prompts) / len(prompts) * 3)
    query = {qid: len(gpt2_tokenizer(text, add_special_tokens=False)["input_ids"]) for qid, text in QUERIES.items()}
    assert row["query_tokens"] == 2 * query["q1"] + 2 * query["q2"] + query["q3"]
    assert row["device_hours"] == pytest.approx(row["tokens"] / 1000 / 3600)


def test_dataset_not_on_disk_uses_published_statistics(toy, tiny_gpt_neo, capsys):
    code, plan = _plan(toy, "--dataset", "scifact", "--method", "dense", "--method", "bm25",
                       "--model", str(tiny_gpt_neo))
    assert code == 0
    dense, bm25 = plan["runs"]
    stats = CATALOGUE["scifact"].stats
    assert (dense["documents"], dense["queries"]) == (5183, 300) == (bm25["documents"], bm25["queries"])
    assert dense["document_tokens"] == round(stats.document_words * TOKENS_PER_WORD * 5183)
    assert bm25["tokens"] is None and bm25["flops"] is None
    out = capsys.readouterr().out
    assert (f"scifact dense {tiny_gpt_neo}: estimated from BEIR's published statistics (Thakur et al. 2021, "
            "Table 1; 1.3 tokens per word)") in out
    assert not (toy / "data" / "scifact").exists()  # nothing downloaded


def test_unreachable_model_and_dataset_are_one_line_each(toy, tiny_gpt_neo, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(toy / "hf"))
    hub_model = "SGPT-125M-weightedmean-msmarco-specb-bitfit"
    code, plan = _plan(toy, "--dataset", "toy", "--dataset", "nope", "--method", "dense", "--model", str(tiny_gpt_neo),
                       "--model", MISSING, "--model", hub_model)
    assert code == 0
    rows = {(row["dataset"], row["model"]): row for row in plan["runs"]}
    assert rows[("toy", str(tiny_gpt_neo))]["flops"] > 0  # the reachable model's row is complete
    missing = rows[("toy", MISSING)]
    assert missing["documents"] == len(DOCS) and missing["flops"] is None and missing["tokens"] > 0
    lines = capsys.readouterr().out.splitlines()
    [note] = [line for line in lines if line.startswith(f"toy dense {MISSING}:")]
    assert note.startswith(f"toy dense {MISSING}: model '{MISSING}': not found locally and ")
    assert note.endswith("; FLOPs unknown, tokens from words x 1.3")
    [hub_note] = [line for line in lines if line.startswith(f"toy dense {hub_model}: ")]
    assert f"model '{PRESETS[hub_model].hub_id}': not found locally and " in hub_note
    assert hub_note.endswith("; parameters from the preset, tokens from words x 1.3")
    table_row = next(line for line in lines if line.startswith("toy") and MISSING in line).split()
    assert table_row[6:8] == ["unknown", "unknown"]  # params, FLOPs
    assert f"nope dense {tiny_gpt_neo}: dataset nope: not in {toy / 'data'} and BEIR publishes no statistics for it; " \
           "counts unknown (--data-dir to where it is)" in lines
    assert not list((toy / "hf").rglob("*.safetensors"))


def test_an_unknown_model_name_is_one_line_as_for_run(toy, capsys):
    code, _ = _plan(toy, "--dataset", "toy", "--method", "dense", "--model", "no-such-model")
    assert code == 2
    err = capsys.readouterr().err
    assert "sgpt-eval: error: unknown model 'no-such-model': not a folder, a preset (" in err


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "toy", "--method", "bm25", "--throughput", "0"],
     "--throughput 0.0: must be a positive number of tokens per second"),
    (["--dataset", "toy"], "run: give --config FILE, or at least one --dataset and one --method"),
    # As `run` says it: the two share their option parsing.
    (["--dataset", "toy", "--method", "dense", "--max-queries", "0"], "--max-queries 0: must be at least 1"),
])
def test_bad_options_exit_2_and_write_nothing(toy, capsys, argv, message):
    code, plan = _plan(toy, *argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == f"sgpt-eval: error: {message}" and plan is None


def test_malformed_corpus_on_disk_is_an_error(toy, tiny_gpt_neo, capsys):
    corpus = toy / "data" / "toy" / "corpus.jsonl"
    corpus.write_text(corpus.read_text() + "not json\n")
    code, plan = _plan(toy, "--dataset", "toy", "--method", "dense", "--model", str(tiny_gpt_neo))
    assert code == 2 and plan is None
    assert capsys.readouterr().err.strip().endswith(f"{corpus}:5: not a JSON object with _id and text; "
                                                    "fix or re-download the file")


def test_sample_is_spread_evenly_and_blank_lines_do_not_count(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"_id": str(i), "text": f"doc {i}"}) + "\n" + ("\n" if i == 3 else "")
                            for i in range(10)))
    assert count_lines(path) == 10
    assert sample_documents(path, 10, size=4) == ["doc 0", "doc 2", "doc 5", "doc 7"]
    assert sample_documents(path, 10, size=20) == [f"doc {i}" for i in range(10)]
