import logging

import pytest

from sgpt_eval import folders
from sgpt_eval.data import beir as beir_data
from sgpt_eval.errors import SgptEvalError

from ..beir_fixtures import write_beir


def test_loads_judged_queries_and_document_text(tmp_path):
    write_beir(tmp_path / "toy")
    dataset = beir_data.load("toy", tmp_path)
    assert dataset.split == "test"
    assert set(dataset.queries) == {"q1", "q2", "q3"}
    assert dataset.corpus.texts(["d1", "d3"]) == [
        "Mitochondria Mitochondria produce ATP by oxidative phosphorylation.",
        "Retrieval models rank documents for a query.",
    ]
    assert set(dataset.hashes) == {"corpus", "queries", "qrels"}


def test_malformed_corpus_line_names_file_and_line(tmp_path):
    folder = write_beir(tmp_path / "toy")
    lines = (folder / "corpus.jsonl").read_text().splitlines()
    lines[2] = '{"_id": "d3", "text": broken'
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(SgptEvalError, match=r"corpus\.jsonl:3: not valid JSON"):
        beir_data.load("toy", tmp_path)


def test_malformed_qrels_line(tmp_path):
    folder = write_beir(tmp_path / "toy")
    with open(folder / "qrels" / "test.tsv", "a") as out:
        out.write("q1\td2\tnot-a-number\n")
    with pytest.raises(SgptEvalError, match=r"test\.tsv:5: expected"):
        beir_data.load("toy", tmp_path)


def test_judgements_on_missing_documents_warn_with_count(tmp_path, caplog):
    write_beir(tmp_path / "toy", qrels=[("q1", "d1", 1), ("q1", "gone", 1), ("q2", "also-gone", 1)])
    with caplog.at_level(logging.WARNING):
        dataset = beir_data.load("toy", tmp_path)
    assert "2 judgements name documents absent from the corpus" in caplog.text
    assert dataset.qrels["q1"] == {"d1": 1, "gone": 1}  # kept: BEIR counts them as unretrievable


def test_missing_split_lists_available_ones(tmp_path):
    write_beir(tmp_path / "toy")
    with pytest.raises(SgptEvalError, match=r"splits here: test"):
        beir_data.load("toy", tmp_path, split="dev")


def test_data_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv(folders.BEIR_DIR_ENV, str(tmp_path))
    assert folders.beir_dir(None) == tmp_path
    assert str(folders.beir_dir("elsewhere")) == "elsewhere"
    monkeypatch.delenv(folders.BEIR_DIR_ENV)
    assert str(folders.beir_dir(None)) == "datasets"


def test_the_first_error_in_file_order_is_raised(tmp_path):
    """A repeated id is found once the pass is over; an error on a later line must not hide it."""
    folder = write_beir(tmp_path / "toy")
    corpus = folder / "corpus.jsonl"
    lines = corpus.read_text().splitlines()
    corpus.write_text("\n".join([*lines, lines[0], '{"_id": "d9", "text": broken']) + "\n")
    with pytest.raises(SgptEvalError, match=r"corpus\.jsonl:5: _id 'd1' is also on line 1"):
        beir_data.load("toy", tmp_path)
    corpus.write_text("\n".join([*lines, '{"_id": "d9", "text": broken', lines[0]]) + "\n")
    with pytest.raises(SgptEvalError, match=r"corpus\.jsonl:5: not valid JSON"):
        beir_data.load("toy", tmp_path)


def test_a_corpus_that_changes_while_it_is_read(tmp_path, monkeypatch):
    folder = write_beir(tmp_path / "toy")
    stamp = beir_data.stamp
    monkeypatch.setattr(beir_data, "stamp", lambda path: (stamp(path)[0] + 1, stamp(path)[1]))
    with pytest.raises(SgptEvalError, match=r"corpus\.jsonl: changed since it was read .*run again so that it is "
                                            r"read afresh"):
        beir_data.load("toy", tmp_path)
