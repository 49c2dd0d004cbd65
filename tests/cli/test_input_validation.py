"""Every bad input is one line naming the file and line, or the option, before any work starts:
exit code 2 and no report (the output folder is not even created)."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation import pipeline
from sgpt_eval.models import bi_encoder, cross_encoder
from sgpt_eval.retrieval.ranking import read_trec, write_trec

from ..beir_fixtures import write_beir
from ..command_line import error_line, run_command
from ..synthetic_reports import write_report
from ..encoders import forbid_loading


@pytest.fixture
def toy(tmp_path) -> Path:
    """A valid toy dataset at tmp_path/data/toy (the tests corrupt it)."""
    return write_beir(tmp_path / "data" / "toy")


def _locations(tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"),
            "--cache-dir", str(tmp_path / "cache")]


def _bm25(tmp_path: Path, *extra: str) -> list[str]:
    return ["bm25", "--dataset", "toy", *_locations(tmp_path), *extra]


def _dense(tmp_path: Path, model: Path, *extra: str) -> list[str]:
    return ["eval", "--dataset", "toy", "--model", str(model), "--device", "cpu", *_locations(tmp_path), *extra]


def _error(capsys, tmp_path: Path, argv: list[str]) -> str:
    """The one error line of a failed command, whose output folder must not exist."""
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sgpt-eval: error: ")]
    assert code == 2 and len(lines) == 1, err
    assert not (tmp_path / "out").exists()
    return lines[0].removeprefix("sgpt-eval: error: ")


def _replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


# BEIR files


def test_bytes_that_are_not_utf8(capsys, tmp_path, toy):
    corpus = toy / "corpus.jsonl"
    with open(corpus, "ab") as out:
        out.write(b'{"_id": "d9", "text": "caf\xe9"}\n')
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == (
        f"{corpus}:5: not UTF-8 text (byte 0xe9 at column 27); save the file as UTF-8 or re-download it")


def test_byte_order_marks_are_accepted_and_change_nothing(capsys, tmp_path, toy):
    assert main(_bm25(tmp_path)) == 0
    plain = json.loads(Path(capsys.readouterr().out.split("\t")[-1].strip()).read_text())
    for path in (toy / "corpus.jsonl", toy / "queries.jsonl", toy / "qrels" / "test.tsv"):
        path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    assert main(_bm25(tmp_path)) == 0
    marked = json.loads(Path(capsys.readouterr().out.split("\t")[-1].strip()).read_text())
    assert marked["identity"]["data_files_sha256"] != plain["identity"]["data_files_sha256"]
    assert marked["metrics"] == plain["metrics"] and marked["per_query"] == plain["per_query"]


@pytest.mark.parametrize(("name", "number", "line", "problem"), [
    ("corpus.jsonl", 2, '{"_id": "d2", "text": 5}', "text must be a string, not a number"),
    ("corpus.jsonl", 3, '{"_id": "d3", "text": null}', "text must be a string, not null"),
    ("corpus.jsonl", 1, '{"_id": "d1", "title": ["a"], "text": "x"}', "title must be a string, not an array"),
    ("queries.jsonl", 1, '{"_id": 7, "text": "x"}', "_id must be a string, not a number"),
    ("queries.jsonl", 2, '["q2", "text"]', "each line must be a JSON object with _id, text"),
])
def test_fields_that_are_not_strings(capsys, tmp_path, toy, name, number, line, problem):
    _replace_line(toy / name, number, line)
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == f"{toy / name}:{number}: {problem}; fix or re-download the file"


def test_a_null_title_is_no_title(capsys, tmp_path, toy):
    _replace_line(toy / "corpus.jsonl", 1, '{"_id": "d1", "title": null, "text": "Mitochondria produce ATP."}')
    assert main(_bm25(tmp_path)) == 0


@pytest.mark.parametrize("doc_id", ["d 1", "d1\t", ""])
def test_ids_a_trec_file_cannot_hold(capsys, tmp_path, toy, doc_id):
    _replace_line(toy / "corpus.jsonl", 1, json.dumps({"_id": doc_id, "text": "x"}))
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == (
        f"{toy / 'corpus.jsonl'}:1: _id {doc_id!r} is empty or contains whitespace, which a TREC ranking file "
        "cannot hold; change the id")


@pytest.mark.parametrize(("name", "line", "first"), [
    ("corpus.jsonl", '{"_id": "d2", "title": "", "text": "again"}', 2),
    ("queries.jsonl", '{"_id": "q1", "text": "again"}', 1),
])
def test_a_repeated_id_names_both_lines(capsys, tmp_path, toy, name, line, first):
    path = toy / name
    path.write_text(path.read_text() + "\n" + line + "\n")  # after a blank line: numbers count every line
    last = len(path.read_text().splitlines())
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == (
        f"{path}:{last}: _id '{line.split(chr(34))[3]}' is also on line {first}; each id must appear once, "
        "fix or re-download the file")


def test_qrels_without_their_header(capsys, tmp_path, toy):
    qrels = toy / "qrels" / "test.tsv"
    qrels.write_text("q1\td1\t1\nq2\td2\t1\n")
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == (
        f"{qrels}:1: the first line must be the header 'query-id\\tcorpus-id\\tscore', got 'q1\\td1\\t1'; "
        "add the header (without it the first judgement would be lost)")


@pytest.mark.parametrize(("name", "text", "message"), [
    ("corpus.jsonl", "", "{path}: no documents in it (an empty file?); fix or re-download the file"),
    ("queries.jsonl", "\n", "{path}: no queries in it (an empty file?); fix or re-download the file"),
    ("qrels/test.tsv", "query-id\tcorpus-id\tscore\n", "{path}: no judgements after its header; fix or re-download the file"),
    ("qrels/test.tsv", "", "{path}:1: the first line must be the header 'query-id\\tcorpus-id\\tscore', got an empty "
                           "file; add the header (without it the first judgement would be lost)"),
])
def test_empty_files(capsys, tmp_path, toy, name, text, message):
    (toy / name).write_text(text)
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == message.format(path=toy / name)


def test_no_judged_query_in_the_queries_file(capsys, tmp_path):
    toy = write_beir(tmp_path / "data" / "toy", queries={"other": "a query nobody judged"})
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == (
        f"{toy / 'qrels' / 'test.tsv'}: none of its 3 judged queries is in {toy / 'queries.jsonl'}; "
        "check that the two files belong to the same dataset")


def test_a_pair_judged_twice_names_both_lines(capsys, tmp_path, toy):
    qrels = toy / "qrels" / "test.tsv"
    qrels.write_text(qrels.read_text() + "q1\td1\t0\n")
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == (
        f"{qrels}:5: query 'q1' and document 'd1' are judged on line 2 too; keep one judgement per pair "
        "(the last would win)")


def test_judgements_that_name_no_document_of_the_corpus(capsys, tmp_path):
    toy = write_beir(tmp_path / "data" / "toy", qrels=[("q1", "x1", 1), ("q2", "x2", 1)])
    assert _error(capsys, tmp_path, _bm25(tmp_path)) == (
        f"{toy / 'qrels' / 'test.tsv'}: none of its 2 judgements names a document of {toy / 'corpus.jsonl'}; "
        "check that the two files belong to the same dataset")


@pytest.mark.parametrize("method", ["bm25", "dense"])
def test_a_lone_surrogate_is_read_as_the_replacement_character_for_every_method(capsys, tmp_path, toy, tiny_gpt_neo,
                                                                                 caplog, method):
    """Valid JSON that UTF-8 cannot encode: one warning naming the file and line, then U+FFFD,
    so that the scores equal those of files holding U+FFFD itself."""
    corpus, queries = toy / "corpus.jsonl", toy / "queries.jsonl"
    _replace_line(corpus, 3, '{"_id": "d3", "title": "", "text": "Retrieval \\ud800 models rank documents."}')
    _replace_line(queries, 3, '{"_id": "q3", "text": "ranking \\udfff documents"}')
    argv = _bm25(tmp_path) if method == "bm25" else _dense(tmp_path, tiny_gpt_neo)
    assert main(argv) == 0
    assert [record.getMessage() for record in caplog.records if "lone surrogate escape" in record.getMessage()] == [
        f"{path}:3: a lone surrogate escape (such as \\ud800) that UTF-8 cannot encode; read as U+FFFD"
        for path in (corpus, queries)]
    [surrogates] = (tmp_path / "out").replace(tmp_path / "surrogates").rglob("*.json")
    _replace_line(corpus, 3, json.dumps({"_id": "d3", "title": "", "text": "Retrieval \ufffd models rank documents."}))
    _replace_line(queries, 3, json.dumps({"_id": "q3", "text": "ranking \ufffd documents"}))
    assert main(argv) == 0
    [replaced] = (tmp_path / "out").rglob("*.json")
    assert json.loads(surrogates.read_text())["metrics"] == json.loads(replaced.read_text())["metrics"]
    assert read_trec(surrogates.with_suffix(".trec.gz")) == read_trec(replaced.with_suffix(".trec.gz"))


def test_a_bad_dataset_in_the_third_run_stops_the_batch_before_the_first_model_loads(capsys, tmp_path, monkeypatch,
                                                                                      tiny_gpt_neo):
    for name in ("toy", "toy2", "bad"):
        write_beir(tmp_path / "data" / name)
    (tmp_path / "data" / "bad" / "queries.jsonl").write_text("")
    forbid_loading(monkeypatch)
    argv = ["run", "--dataset", "toy", "--dataset", "toy2", "--dataset", "bad", "--method", "bm25", "--method", "dense",
            "--model", str(tiny_gpt_neo), *_locations(tmp_path)]
    assert _error(capsys, tmp_path, argv) == (
        f"{tmp_path / 'data' / 'bad' / 'queries.jsonl'}: no queries in it (an empty file?); fix or re-download the file")


def test_a_single_dataset_is_read_once(capsys, tmp_path, toy, monkeypatch):
    reads = []
    read = pipeline.beir.read
    monkeypatch.setattr(pipeline.beir, "read", lambda *args: reads.append(args[0].name) or read(*args))
    assert main(_bm25(tmp_path)) == 0
    assert reads == ["toy"]


# Options


@pytest.mark.parametrize(("extra", "message"), [
    (["--top-k", "-5"], "--top-k -5: must be at least 1"),
    (["--top-k", "0"], "--top-k 0: must be at least 1"),
    (["--max-queries", "0"], "--max-queries 0: must be at least 1"),
])
def test_bm25_counts_below_one(capsys, tmp_path, toy, extra, message):
    assert _error(capsys, tmp_path, _bm25(tmp_path, *extra)) == message


@pytest.mark.parametrize(("extra", "message"), [
    (["--top-k", "0"], "--top-k 0: must be at least 1"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--shard-size", "-1"], "--shard-size -1: must be at least 1"),
    (["--max-length", "0"], "--max-length 0: must be at least 1"),
])
def test_dense_counts_below_one(capsys, tmp_path, toy, tiny_gpt_neo, monkeypatch, extra, message):
    forbid_loading(monkeypatch)
    assert _error(capsys, tmp_path, _dense(tmp_path, tiny_gpt_neo, *extra)) == message


def test_run_command_and_config_counts_below_one(capsys, tmp_path, toy):
    argv = ["run", "--dataset", "toy", "--method", "bm25", "--max-queries", "0", *_locations(tmp_path)]
    assert _error(capsys, tmp_path, argv) == "--max-queries 0: must be at least 1"
    config = tmp_path / "runs.toml"
    for value, problem in (("0", "--top-k 0: must be at least 1"), ('"5"', "--top-k '5': expected a whole number")):
        config.write_text(f'datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\ntop_k = {value}\n')
        argv = ["run", "--config", str(config), *_locations(tmp_path)]
        assert _error(capsys, tmp_path, argv) == f"{config}, runs #1: {problem}"


# First-stage ranking files


@pytest.mark.parametrize("lines", ["", "x1 Q0 y1 1 2.0 other\n", "q1 Q0 elsewhere 1 2.0 other\n"])
def test_a_ranking_file_that_matches_nothing(capsys, tmp_path, toy, tiny_gpt_neo, monkeypatch, lines):
    ranking = tmp_path / "other.trec"
    ranking.write_text(lines)
    forbid_loading(monkeypatch)
    argv = ["rerank", "--dataset", "toy", "--model", str(tiny_gpt_neo), "--device", "cpu", "--first-stage", str(ranking),
            *_locations(tmp_path)]
    assert _error(capsys, tmp_path, argv) == (
        f"{ranking}: nothing in it matches the dataset (no entry pairs one of the 3 judged queries evaluated with a "
        "corpus document); give --first-stage a ranking of this dataset and split")


def test_a_first_stage_report_of_another_dataset(capsys, tmp_path, toy, tiny_gpt_neo, monkeypatch):
    """A report is taken as a first stage (its ranking beside it) only when it is of the dataset and split."""
    report = write_report(tmp_path / "elsewhere", "scifact", "bm25", "bm25s", 0.6)
    forbid_loading(monkeypatch)
    argv = ["rerank", "--dataset", "toy", "--model", str(tiny_gpt_neo), "--device", "cpu", "--first-stage", str(report),
            *_locations(tmp_path)]
    assert _error(capsys, tmp_path, argv) == (f"{report}: a ranking of scifact (test split), not of toy (test split); "
                                              "give --first-stage a ranking of this dataset and split")


@pytest.mark.parametrize(("ranking", "what"), [
    ({"q1": {"d1": 1.0, "d 2": 0.5}}, "document id 'd 2' (query 'q1')"),
    ({"q1": {"d1": 1.0}, "q\t2": {"d1": 1.0}}, "query id 'q\\t2'"),
])
def test_write_trec_refuses_ids_with_whitespace_before_writing(tmp_path, ranking, what):
    path = tmp_path / "run.trec"
    path.write_text("q0 Q0 d0 1 1.000000 earlier\n")
    with pytest.raises(SgptEvalError) as raised:
        write_trec(path, ranking, tag="t")
    assert str(raised.value) == (f"{path}: cannot write {what}: a TREC ranking file's ids must be non-empty and without "
                                 "whitespace; change the id in the dataset (nothing was written)")
    assert path.read_text() == "q0 Q0 d0 1 1.000000 earlier\n" and [p.name for p in tmp_path.iterdir()] == ["run.trec"]


# Folders


def test_an_output_folder_that_cannot_be_created(capsys, tmp_path, toy):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    argv = ["bm25", "--dataset", "toy", "--data-dir", str(tmp_path / "data"), "--output-dir", str(blocker / "out")]
    assert _error(capsys, tmp_path, argv) == (
        f"{blocker / 'out'}: cannot create or write this folder (Not a directory); choose another with --output-dir")


def test_a_cache_folder_that_cannot_be_created(capsys, tmp_path, toy):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    argv = ["bm25", "--dataset", "toy", "--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"),
            "--cache-dir", str(blocker / "cache")]
    assert _error(capsys, tmp_path, argv) == (f"{blocker / 'cache'}: cannot create or write this folder (Not a directory); "
                                              "choose another with --cache-dir (or $SGPT_EVAL_CACHE)")
    assert main([*argv, "--no-cache"]) == 0  # a run that writes no cache does not need one


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
    code, _, err = run_command(capsys, method, "--dataset", "toy", "--data-dir", str(tmp_path / "data"),
                               "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
                               "--model", str(tiny_gpt_neo), "--max-length", max_length)
    assert code == 2 and error_line(err) == "sgpt-eval: error: " + message.format(model=tiny_gpt_neo)
    assert not (tmp_path / "out").exists()
