"""Reading first-stage runs: TREC and SGPT's JSON results, errors with file and line, and
entries the dataset does not know."""

from __future__ import annotations

import gzip
import json
import logging

import pytest

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.retrieval.ranking import read_ranking as read_run, restrict_to, write_trec

RUN = {"q1": {"d1": 2.5, "d2": 1.25}, "q2": {"d3": -0.5}}


def test_trec_round_trip(tmp_path):
    path = tmp_path / "bm25.trec"
    write_trec(path, RUN, tag="bm25 run")
    assert path.read_text().splitlines()[0] == "q1 Q0 d1 1 2.500000 bm25_run"
    assert read_run(path) == RUN


def test_a_gz_ranking_is_written_compressed_the_same_bytes_each_time_and_read_like_a_plain_one(tmp_path):
    path = tmp_path / "bm25.trec.gz"
    write_trec(path, RUN, tag="bm25 run")
    first = path.read_bytes()
    header = first[:10]
    assert header[:2] == b"\x1f\x8b" and header[4:8] == bytes(4)  # gzip, mtime 0
    assert not first[3] & 0x08  # FNAME unset: no file name stored
    assert gzip.decompress(first).decode().splitlines()[0] == "q1 Q0 d1 1 2.500000 bm25_run"
    write_trec(tmp_path / "elsewhere.trec.gz", RUN, tag="bm25 run")
    write_trec(path, RUN, tag="bm25 run")
    assert path.read_bytes() == first == (tmp_path / "elsewhere.trec.gz").read_bytes()
    assert read_run(path) == RUN and sorted(p.name for p in tmp_path.iterdir()) == ["bm25.trec.gz", "elsewhere.trec.gz"]
    json_gz = tmp_path / "scifact.json.gz"
    json_gz.write_bytes(gzip.compress(json.dumps(RUN).encode()))
    assert read_run(json_gz) == RUN


def test_a_damaged_gz_ranking_is_one_error_naming_it(tmp_path):
    path = tmp_path / "run.trec.gz"
    write_trec(path, RUN, tag="t")
    path.write_bytes(path.read_bytes()[:-12])  # cut short: no end-of-stream
    with pytest.raises(SgptEvalError) as caught:
        read_run(path)
    assert str(caught.value).startswith(f"{path}: a damaged gzip file (") and str(caught.value).endswith("write it again")


def test_sgpt_json_results(tmp_path):
    path = tmp_path / "scifact.json"
    path.write_text(json.dumps({"q1": {"d1": 2.5, "d2": 1}, "7": {}}))
    assert read_run(path) == {"q1": {"d1": 2.5, "d2": 1.0}, "7": {}}


@pytest.mark.parametrize("bad_line", ["q2 Q0 d3 1 high tag", "q2 Q0 d3 1 0.5", "q2 Q0 d3 1 0.5 tag extra"])
def test_malformed_trec_line_names_file_and_line(tmp_path, bad_line):
    path = tmp_path / "run.trec"
    path.write_text(f"q1 Q0 d1 1 2.5 t\n\n{bad_line}\n")
    with pytest.raises(SgptEvalError, match=r"run\.trec:3: expected 'query-id Q0 doc-id rank score tag'"):
        read_run(path)


def test_malformed_json_names_file_and_line(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"q1": {"d1": 1.0},\n "q2": }\n')
    with pytest.raises(SgptEvalError, match=r"run\.json:2: not valid JSON"):
        read_run(path)
    path.write_text(json.dumps({"q1": {"d1": "high"}}))
    with pytest.raises(SgptEvalError, match="query 'q1' must map document ids to numeric scores"):
        read_run(path)
    with pytest.raises(SgptEvalError, match="no such file"):
        read_run(tmp_path / "missing.trec")


@pytest.mark.parametrize(("name", "text", "where", "score"), [
    ("run.trec", "q1 Q0 d1 1 2.5 t\nq1 Q0 d2 2 nan t\n", 2, "nan"),
    ("run.trec", "q1 Q0 d1 1 -inf t\n", 1, "-inf"),
    ("run.json", '{"q1": {"d1": 2.5, "d 2": 1e400},\n "q2": {"d1": NaN}}', 1, "1e400"),
    ("run.json", '{"q1": {"NaN": 2.5, "d\\"2": 1},\n "q2": {"d1": -Infinity}}', 2, "-Infinity"),
])
def test_a_score_that_is_not_finite_names_file_and_line(tmp_path, name, text, where, score):
    """A ranking holding NaN or infinity has no order (a re-ranker would take its candidates at
    random, a weighted fusion would write NaN): refused, whatever the format."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SgptEvalError) as caught:
        read_run(path)
    assert str(caught.value) == (f"{path}:{where}: score {score} is not a finite number; a ranking cannot order it, "
                                 "fix the system that wrote the file")


def test_unknown_queries_and_documents_are_dropped_with_a_warning(tmp_path, caplog):
    run = {"q1": {"d1": 1.0, "gone": 0.5, "also-gone": 0.2}, "unknown-q": {"d1": 1.0}, "q2": {"d3": 0.1}}
    with caplog.at_level(logging.WARNING, logger="sgpt_eval.run_files"):
        kept = restrict_to(run, {"q1", "q2"}, {"d1", "d3"}, tmp_path / "x.trec")
    assert kept == {"q1": {"d1": 1.0}, "q2": {"d3": 0.1}}
    assert "dropped 1 queries" in caplog.text and "2 entries naming documents" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sgpt_eval.run_files"):
        restrict_to(kept, {"q1", "q2"}, {"d1", "d3"}, tmp_path / "x.trec")
    assert caplog.text == ""
