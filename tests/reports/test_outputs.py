"""What runs write and what reports say: compare over equal query sets, custom datasets in the table,
provenance in reports, SGPT-CE on over-long queries and on models without position embeddings, and
--max-length within the model's positions."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import pytest
import torch

from sgpt_eval.cli import main
from sgpt_eval.models import bi_encoder, cross_encoder
from sgpt_eval.models.cross_encoder import DEFAULT_CONTEXT, SGPTCrossEncoder
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.prompts import TEMPLATES, PromptTokenizer
from sgpt_eval.models.store import ModelSource
from sgpt_eval.reports import schema

from ..beir_fixtures import write_beir
from ..reference_sgpt_ce import reference_scores
from ..synthetic_reports import only_report, write_report

LONG_QUERY = "does vitamin D supplementation reduce the risk of cancer in older patients " * 3


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("sgpt-eval: error:")]
    assert len(lines) == 1, err
    return lines[0]


# -- compare ----------------------------------------------------------------------------------

def test_compare_refuses_different_query_sets_unless_intersected(tmp_path, capsys):
    dense = write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.5, {"1": 1.0, "2": 0.5, "3": 0.0})
    bm25 = write_report(tmp_path, "scifact", "bm25", "bm25s", 0.5, {"1": 0.5, "2": 0.5})

    code, out, err = _run(capsys, "compare", str(dense), str(bm25), "--permutations", "10")
    assert code == 2 and not out
    assert _error_line(err) == (
        f"sgpt-eval: error: compare: {dense} has 3 queries, {bm25} has 2, 2 shared; the two were run on different "
        "query sets, pass --intersect to compare the 2 shared queries only")

    code, out, _ = _run(capsys, "compare", str(dense), str(bm25), "--permutations", "10", "--intersect")
    assert code == 0
    assert "A - B +0.2500 over 2 queries" in out and "A better on 1, B better on 0, tied on 1" in out
    assert "queries: 3 in A, 2 in B, 2 shared; compared on the shared queries only (--intersect)" in out

    same = write_report(tmp_path, "scifact", "rerank", "SmolLM2-135M", 0.5, {"1": 0.0, "2": 1.0})
    code, out, _ = _run(capsys, "compare", str(same), str(bm25), "--permutations", "10")
    assert code == 0 and out.rstrip().endswith("queries: 2 in A, 2 in B, 2 shared")


def test_compare_with_no_shared_query_is_refused_even_intersected(tmp_path, capsys):
    dense = write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.5, {"1": 1.0})
    bm25 = write_report(tmp_path, "scifact", "bm25", "bm25s", 0.5, {"2": 0.5})
    code, _, err = _run(capsys, "compare", str(dense), str(bm25), "--intersect")
    assert code == 2 and _error_line(err).endswith(
        "has 1, 0 shared; nothing to compare, compare reports over the same queries")


# -- table ------------------------------------------------------------------------------------

def test_table_shows_a_custom_dataset_after_beirs_and_out_of_the_averages(tmp_path, capsys):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "nfcorpus", "dense", "all-MiniLM-L6-v2", 0.3)
    write_report(tmp_path, "msmarco", "dense", "all-MiniLM-L6-v2", 0.4)
    write_report(tmp_path, "my-papers", "dense", "all-MiniLM-L6-v2", 0.9)
    no_published = tmp_path / "no-published.csv"
    no_published.write_text("dataset,model,ndcg@10,source\n")

    code, out, _ = _run(capsys, "table", "--results-dir", str(tmp_path), "--format", "csv", "--published-csv",
                        str(no_published))

    assert code == 0
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert [row[0] for row in rows] == ["NFCorpus", "SciFact", "MS MARCO (dev)", "my-papers",
                                        "Average (2 of 18 datasets run)"]
    assert rows[3][1] == "0.90000" and rows[4][1] == "0.45000"
    markdown = (tmp_path / "tables" / "beir_ndcg10.md").read_text()
    assert "- my-papers: not BEIR datasets; shown after them and left out of every average." in markdown

    code, out, _ = _run(capsys, "table", "--results-dir", str(tmp_path), "--format", "csv", "--dataset", "my-papers")
    assert code == 0 and [line.split(",")[0] for line in out.splitlines()[1:]] == ["my-papers"]


def test_table_options_name_what_exists(tmp_path, capsys):
    write_report(tmp_path, "scifact", "dense", "all-MiniLM-L6-v2", 0.6)
    write_report(tmp_path, "my-papers", "dense", "all-MiniLM-L6-v2", 0.9)

    code, _, err = _run(capsys, "table", "--results-dir", str(tmp_path), "--dataset", "scifcat")
    line = _error_line(err)
    assert code == 2 and line.startswith(
        f"sgpt-eval: error: --dataset scifcat: not a BEIR dataset, and no report under {tmp_path} names it; "
        "datasets with reports: my-papers, scifact; BEIR's: trec-covid, bioasq,")

    code, _, err = _run(capsys, "table", "--results-dir", str(tmp_path), "--published", "SGPT-5.8B")
    line = _error_line(err)  # the published numbers shipped with the package, unless --published-csv
    assert code == 2 and line.startswith("sgpt-eval: error: --published SGPT-5.8B: not in the published CSV; choose from ")
    assert "SGPT-5.8B-weightedmean-msmarco-specb-bitfit" in line

    published = tmp_path / "published.csv"
    published.write_text("dataset,model,ndcg@10,source\nscifact,BM25 (bm25s),0.6874,MTEB\nscifact,SGPT-125M,0.5,paper\n")
    code, _, err = _run(capsys, "table", "--results-dir", str(tmp_path), "--published-csv", str(published),
                        "--published", "SGPT-5.8B")
    assert code == 2 and _error_line(err) == (
        "sgpt-eval: error: --published SGPT-5.8B: not in the published CSV; choose from BM25 (bm25s), SGPT-125M")
    assert not (tmp_path / "tables").exists()


# -- provenance -------------------------------------------------------------------------------

def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(Path(schema.__file__).parent), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def test_report_records_the_harness_commit_and_the_data_folder_outside_the_identity(tmp_path, capsys, monkeypatch):
    write_beir(tmp_path / "data" / "toy")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SGPT_EVAL_CACHE", str(tmp_path / "cache"))
    schema.harness_git.cache_clear()

    code, out, _ = _run(capsys, "bm25", "--dataset", "toy", "--data-dir", "data", "--output-dir", "out")

    assert code == 0
    report = only_report(tmp_path / "out")
    assert report["data_dir"] == str((tmp_path / "data").resolve())
    commit = _git("rev-parse", "HEAD")
    if commit is None:  # not run from a checkout
        assert report["harness_git"] is None
    else:
        assert report["harness_git"] == {"commit": commit, "dirty": bool(_git("status", "--porcelain", "-uno"))}
    assert not {"harness_git", "data_dir"} & set(report["identity"])
    assert out.strip().endswith(f".{schema.Identity(**report['identity']).digest()}.json")

    schema.harness_git.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert schema.harness_git() is None  # git missing: nothing recorded, nothing fails
    schema.harness_git.cache_clear()


# -- SGPT-CE: over-long queries ---------------------------------------------------------------

def _source(folder: Path) -> ModelSource:
    return ModelSource("tiny", folder, "local", "test", None)


def test_a_query_too_long_for_the_prompt_is_cut_as_sgpt_does(gpt2_tokenizer):
    """SGPT's expression on the same token ids: the document, the prompt's text after it and then
    the query's first tokens are cut; the query tokens that remain are scored."""
    template = TEMPLATES["asymmetric"]
    prompt = PromptTokenizer(gpt2_tokenizer, template, max_length=30)
    doc = "alpha beta gamma delta " * 5
    context = gpt2_tokenizer(template.replace("{doc}", doc), add_special_tokens=False)["input_ids"]
    continuation = gpt2_tokenizer(LONG_QUERY, add_special_tokens=False)["input_ids"]
    instruction = prompt.instruction_len
    assert len(continuation) > 30 - instruction
    sgpt_input = (context[:instruction] + (context[instruction:] + continuation)[-(30 + 1 - instruction):])[:-1]

    pair = prompt.pairs([(LONG_QUERY, doc)])[0]

    assert [*pair.prefix, *pair.query][:-1] == sgpt_input and len(sgpt_input) == 30
    assert pair.prefix == tuple(context[:instruction]) and pair.query == tuple(continuation[-(30 + 1 - instruction):])

    headless = PromptTokenizer(gpt2_tokenizer, "{doc}", max_length=8).pairs([(LONG_QUERY, doc)])[0]
    assert headless.prefix == tuple(continuation[-9:-8]) and headless.query == tuple(continuation[-8:])


def test_too_long_queries_are_scored_with_one_warning(tiny_gpt_neo, caplog):
    """Too-long queries score as SGPT's loop scores the same ids; the pairs that fit score as they do alone."""
    docs = ["protein binding receptor therapy " * 4, "cell cancer gene", ""]
    pairs = [(query, doc) for query in ("vitamin D risk", LONG_QUERY, "gene expression levels") for doc in docs]
    scorer = SGPTCrossEncoder(_source(tiny_gpt_neo), max_length=32, batch_size=4)

    with caplog.at_level(logging.WARNING, logger="sgpt_eval"):
        fast = scorer.predict(pairs, show_progress_bar=False)

    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warnings == [
        "3 of 9 pairs have a query of more than 10 tokens, too long for the prompt within 32 tokens: cut as SGPT does "
        "(the whole document, then the prompt's text after it, then the query's first tokens) and scored on what "
        "remains of the query"]
    assert fast == pytest.approx(reference_scores(scorer.model, scorer.prompt, pairs), abs=1e-3)
    fitting = [pair for pair in pairs if pair[0] != LONG_QUERY]
    alone = scorer.predict(fitting, show_progress_bar=False)
    assert [score for pair, score in zip(pairs, fast) if pair[0] != LONG_QUERY] == pytest.approx(alone, abs=1e-5)


def test_rerank_run_with_a_too_long_query_writes_its_report(tiny_gpt_neo, tmp_path, capsys, caplog):
    write_beir(tmp_path / "data" / "toy", queries={"q1": "how do cells make energy " * 8, "q2": "plants", "q3": "ranking documents"})
    with caplog.at_level(logging.WARNING, logger="sgpt_eval"):
        code, out, _ = _run(capsys, "rerank", "--dataset", "toy", "--data-dir", str(tmp_path / "data"),
                            "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                            "--model", str(tiny_gpt_neo), "--max-length", "24", "--top-k", "3")
    assert code == 0 and out.startswith("toy\t")
    assert sum("too long for the prompt" in record.getMessage() for record in caplog.records) == 1
    report = only_report(tmp_path / "out")
    assert report["identity"]["model"]["max_length"] == 24 and set(report["per_query"]["NDCG@10"]) == {"q1", "q2", "q3"}


# -- models without position embeddings; --max-length within the positions -------------------

@pytest.fixture(scope="module")
def tiny_bloom(gpt2_tokenizer, tmp_path_factory):
    """Write a 2-layer BLOOM (ALiBi: no max_position_embeddings) with the GPT-2 tokenizer, its
    `model_max_length` set to the value given."""
    from transformers import BloomConfig, BloomForCausalLM

    torch.manual_seed(0)
    model = BloomForCausalLM(BloomConfig(vocab_size=len(gpt2_tokenizer), hidden_size=32, n_layer=2, n_head=4)).eval()

    def write(model_max_length: int) -> Path:
        folder = tmp_path_factory.mktemp("tiny-bloom")
        model.save_pretrained(folder, safe_serialization=True)
        gpt2_tokenizer.save_pretrained(folder)
        settings = json.loads((folder / "tokenizer_config.json").read_text())
        (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "model_max_length": model_max_length}))
        return folder

    return write


def test_a_model_without_position_embeddings_takes_its_tokenizers_context(tiny_bloom, caplog):
    folder = tiny_bloom(256)
    assert "max_position_embeddings" not in json.loads((folder / "config.json").read_text())
    with caplog.at_level(logging.INFO, logger="sgpt_eval"):
        scorer = SGPTCrossEncoder(_source(folder), batch_size=4)
    assert scorer.settings.max_length == 256
    assert ("model tiny: no max_position_embeddings in its config; context 256 tokens, its tokenizer's "
            "model_max_length") in caplog.text
    pairs = [("vitamin D", "a document about vitamins"), ("cancer gene", "a document about vitamins"), ("x", "")]
    fast = scorer.predict(pairs, show_progress_bar=False)
    assert fast == pytest.approx(reference_scores(scorer.model, scorer.prompt, pairs), abs=1e-3)

    unlimited = tiny_bloom(int(1e30))
    with caplog.at_level(logging.INFO, logger="sgpt_eval"):
        settings = cross_encoder.describe(ModelOptions(model=str(unlimited)), unlimited.parent)
    assert settings.max_length == DEFAULT_CONTEXT == 2048
    assert f"model {unlimited}: neither its config nor its tokenizer gives a context length; context 2048" in caplog.text


@pytest.mark.parametrize("method", ["eval", "rerank"])
@pytest.mark.parametrize("max_length, message", [
    ("4096", "--max-length 4096: model {model} has 512 positions; use at most 512"),
    ("0", "--max-length 0: must be at least 1"),
])
def test_max_length_beyond_the_models_positions_is_one_line(method, max_length, message, tiny_gpt_neo, tmp_path, capsys,
                                                            monkeypatch):
    write_beir(tmp_path / "data" / "toy")
    for module in (bi_encoder, cross_encoder):
        monkeypatch.setattr(module, "load_pretrained", lambda *args: pytest.fail("weights loaded"))
    code, _, err = _run(capsys, method, "--dataset", "toy", "--data-dir", str(tmp_path / "data"),
                        "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                        "--model", str(tiny_gpt_neo), "--max-length", max_length)
    assert code == 2 and _error_line(err) == "sgpt-eval: error: " + message.format(model=tiny_gpt_neo)
    assert not (tmp_path / "out").exists()
