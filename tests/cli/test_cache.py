"""`sgpt-eval cache list | prune`: one line per entry and a total, prune's dry run, and what it keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgpt_eval.cli import cache as cli_cache
from sgpt_eval.cli import main
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.storage import sha256_file

from ..beir_fixtures import DOCS, write_beir
from ..command_line import error_line, parse, run_command


@pytest.fixture
def root(tmp_path) -> Path:
    """BM25 indexes of two datasets under cache/, and re-rank scores with no record; then toy2's
    data folder is gone, so only toy's corpus is still held."""
    write_beir(tmp_path / "data" / "toy")
    write_beir(tmp_path / "old" / "toy2", docs={**DOCS, "d9": ("Old", "A corpus since removed.")})
    for data, dataset in (("data", "toy"), ("old", "toy2")):
        assert main(["bm25", "--dataset", dataset, "--data-dir", str(tmp_path / data), "--output-dir",
                     str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]) == 0
    scores = tmp_path / "cache" / "rerank_scores"
    scores.mkdir()
    (scores / "old.jsonl").write_text('{"a": 1}\n')
    return tmp_path


def _entries(capsys, root: Path, *argv: str) -> list[list[str]]:
    args = parse(cli_cache, "cache", *argv)
    capsys.readouterr()
    args.handler(args, root / "cache")
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def _removed_corpus(root: Path) -> str:
    """How `cache` names the corpus no data folder holds any more: its sha256's first 12 digits."""
    return f"corpus {sha256_file(root / 'old' / 'toy2' / 'corpus.jsonl')[:12]}"


def test_list_prints_each_entry_and_the_total(root, capsys):
    lines = _entries(capsys, root, "list")
    assert [line[0] for line in lines] == ["bm25", "bm25", "rerank-scores", "total"]
    assert all(line[3].startswith(str(root / "cache")) for line in lines[:3])
    assert lines[0][2].startswith("bm25s ") and lines[2][2] == "1 pairs; no readable record of what it belongs to"
    assert lines[-1][0] == "total" and lines[-1][2] == f"3 entries in {root / 'cache'}"


def test_a_dry_run_names_what_prune_would_remove_and_removes_nothing(root, capsys):
    before = sorted(path for path in (root / "cache").rglob("*"))
    lines = _entries(capsys, root, "prune", "--data-dir", str(root / "data"), "--dry-run")
    assert [line[:2] for line in lines[:-1]] == [["would remove", "bm25"]]
    assert lines[0][3].endswith(_removed_corpus(root))
    assert lines[-1][0] == "would free" and lines[-1][2] == f"1 of 3 entries in {root / 'cache'}"
    assert sorted(path for path in (root / "cache").rglob("*")) == before


def test_prune_keeps_the_held_corpora_and_what_texts_key_unless_all(root, capsys, monkeypatch):
    monkeypatch.setenv("SGPT_EVAL_BEIR_DIR", str(root / "data"))  # the data folder when no --data-dir is given
    lines = _entries(capsys, root, "prune")
    assert [line[:2] for line in lines[:-1]] == [["removed", "bm25"]] and lines[0][3].endswith(_removed_corpus(root))
    assert not Path(lines[0][4]).exists()
    left = _entries(capsys, root, "list")
    assert [line[0] for line in left] == ["bm25", "rerank-scores", "total"]
    assert not left[0][2].endswith(_removed_corpus(root))

    lines = _entries(capsys, root, "prune", "--all")
    assert [line[:2] for line in lines[:-1]] == [["removed", "rerank-scores"]]
    assert [line[0] for line in _entries(capsys, root, "list")] == ["bm25", "total"]


def test_prune_with_a_data_folder_that_holds_no_corpus_is_one_line_and_removes_nothing(root, capsys):
    (root / "empty").mkdir()
    code, out, err = run_command(capsys, "cache", "prune", "--data-dir", str(root / "empty"), "--cache-dir",
                                 str(root / "cache"))
    assert code == 2 and not out
    assert error_line(err).startswith(f"sgpt-eval: error: --data-dir {root / 'empty'}: no corpus.jsonl under it")
    with pytest.raises(SgptEvalError, match="not a folder"):
        args = parse(cli_cache, "cache", "prune", "--data-dir", str(root / "missing"))
        args.handler(args, root / "cache")
    assert len(_entries(capsys, root, "list")) == 4


@pytest.mark.parametrize("dry_run", [True, False])
def test_without_data_dir_prune_uses_the_default_data_folder_and_says_so(root, capsys, monkeypatch, dry_run):
    monkeypatch.delenv("SGPT_EVAL_BEIR_DIR", raising=False)
    monkeypatch.chdir(root)
    argv = ["cache", "prune", *(["--dry-run"] if dry_run else []), "--cache-dir", str(root / "cache")]
    code, out, err = run_command(capsys, *argv)
    assert code == 2 and not out
    assert error_line(err) == ("sgpt-eval: error: the default data folder datasets ($SGPT_EVAL_BEIR_DIR, else "
                               "./datasets): not a folder; pass --data-dir with the BEIR data folder(s) whose "
                               "datasets' caches to keep")
    assert len(_entries(capsys, root, "list")) == 4  # nothing removed

    write_beir(root / "datasets" / "kept")  # the default folder, where a dataset is: as with --data-dir
    code, out, err = run_command(capsys, *argv)
    assert code == 0 and out.splitlines()[-1].startswith("would free" if dry_run else "freed")
