"""Reading USEB's data-eval files: formats, splits, and errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgpt_eval.errors import SgptEvalError
from sgpt_eval import folders
from sgpt_eval.data import useb as data

from ..useb_samples import write_askubuntu, write_cqadupstack, write_scidocs, write_twitterpara


def test_data_dir_prefers_option_then_environment(monkeypatch):
    monkeypatch.setenv(folders.USEB_DIR_ENV, "/from/env")
    assert folders.useb_dir("/from/option") == Path("/from/option")
    assert folders.useb_dir(None) == Path("/from/env")
    monkeypatch.delenv(folders.USEB_DIR_ENV)
    assert folders.useb_dir(None) == Path("data-eval")


def test_missing_files_are_named(tmp_path):
    (tmp_path / "twitterpara").mkdir()
    (tmp_path / "twitterpara" / "test.data").write_text("")
    with pytest.raises(SgptEvalError, match="lacks Twitter_URL_Corpus_test.txt, test.label"):
        data.load("twitterpara", tmp_path)


def test_twitterpara_votes_are_parsed_not_evaluated(tmp_path):
    write_twitterpara(tmp_path)
    loaded = data.load("twitterpara", tmp_path)
    url, pit = loaded.content.subsets["twitterurl"], loaded.content.subsets["pit"]
    assert [pair.votes for pair in url] == [5, 1, 3, 4]  # "(4, 6)" with a space too; the blank line is skipped
    assert url[1].s2 == "bill news today"
    assert [(pair.s1, pair.votes) for pair in pit] == [("storm hits the coast", 5), ("storm hits the coast", 0),
                                                      ("storm hits the coast", 3), ("storm hits the coast", 2)]
    assert set(loaded.files) == {"Twitter_URL_Corpus_test.txt", "test.data", "test.label"}


def test_a_label_that_is_code_is_an_error_naming_the_line(tmp_path):
    write_twitterpara(tmp_path)
    url_file = tmp_path / "twitterpara" / "Twitter_URL_Corpus_test.txt"
    sentinel = tmp_path / "evaluated"
    url_file.write_text(url_file.read_text() + f"a\tb\t(open({str(sentinel)!r}, 'w'), 1)\turl\n")
    with pytest.raises(SgptEvalError, match=r"Twitter_URL_Corpus_test.txt line 6: label .* is not of the form"):
        data.load("twitterpara", tmp_path)
    assert not sentinel.exists()


def test_a_short_pit_line_is_an_error(tmp_path):
    write_twitterpara(tmp_path)
    (tmp_path / "twitterpara" / "test.data").write_text("1\ttopic\tonly one sentence\n")
    with pytest.raises(SgptEvalError, match=r"test.data line 1: expected at least 5 tab-separated fields"):
        data.load("twitterpara", tmp_path)


def test_twitterpara_has_only_a_test_split(tmp_path):
    write_twitterpara(tmp_path)
    assert data.load("twitterpara", tmp_path, "valid").split == "test"


def test_askubuntu_orders_candidates_by_bm25_and_skips_questions_without_similar(tmp_path):
    write_askubuntu(tmp_path)
    loaded = data.load("askubuntu", tmp_path)
    questions = loaded.content.questions
    assert [q.qid for q in questions] == ["1", "8"]
    assert questions[0].candidates == ("2", "6", "4", "3", "5")
    assert questions[0].relevant == ("3", "5")
    assert loaded.content.titles["1"] == "how do i install nvidia drivers ?"
    assert data.load("askubuntu", tmp_path, "valid").content.questions[0].candidates == ("9", "11", "12")


@pytest.mark.parametrize(("line", "problem"), [
    ("1\t3\t2 3\t1.0\n", "2 candidates but 1 BM25 scores"),
    ("1\t3\t2 3\t1.0 x\n", "BM25 scores must be numbers"),
    ("1\t3\t2 99\t1.0 2.0\n", "id 99 is not in text_tokenized.txt"),
    ("1\t5\t2 3\t1.0 2.0\n", "none of the similar questions is among the candidates"),
    ("1\t3 2 3\n", "expected 4 tab-separated fields"),
])
def test_askubuntu_errors_name_the_line(tmp_path, line, problem):
    write_askubuntu(tmp_path)
    (tmp_path / "askubuntu" / "test.txt").write_text("8\t9\t9 10\t1.0 2.0\n" + line)
    with pytest.raises(SgptEvalError, match=f"test.txt line 2: {problem}"):
        data.load("askubuntu", tmp_path)


def test_cqadupstack_pool_leaves_out_the_split_queries_only(tmp_path):
    write_cqadupstack(tmp_path)
    test = data.load("cqadupstack", tmp_path).content.forums["android"]
    assert list(test.queries) == ["q1"] and "q1" not in test.pool and "q2" in test.pool
    valid = data.load("cqadupstack", tmp_path, "valid").content.forums["android"]
    assert list(valid.queries) == ["q2"] and "q1" in valid.pool and "q2" not in valid.pool


def test_cqadupstack_json_errors_name_the_file(tmp_path):
    write_cqadupstack(tmp_path)
    (tmp_path / "cqadupstack" / "retrieval_split.json").write_text('{"test": {"android": {"q1": ["d1"]}}}')
    with pytest.raises(SgptEvalError, match="retrieval_split.json.*forum gis"):
        data.load("cqadupstack", tmp_path)
    (tmp_path / "cqadupstack" / "corpus.json").write_text('{"android": \n{')
    with pytest.raises(SgptEvalError, match="corpus.json line 2: not valid JSON"):
        data.load("cqadupstack", tmp_path)


def test_scidocs_titles_and_splits(tmp_path):
    write_scidocs(tmp_path)
    test = data.load("scidocs", tmp_path).content
    assert sorted(test.tasks) == ["cite", "cocite", "coread", "coview"]
    assert test.titles["c5"] == "" and test.titles["p2"] == ""
    assert data.load("scidocs", tmp_path, "valid").content.tasks["cite"] == {"p1": {"c4": 1, "c2": 0}}


def test_unknown_split_is_an_error(tmp_path):
    write_scidocs(tmp_path)
    with pytest.raises(SgptEvalError, match="--split dev"):
        data.load("scidocs", tmp_path, "dev")
