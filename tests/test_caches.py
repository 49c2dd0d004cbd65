"""The cache folder's entries as `sgpt-eval cache` sees them: what each run left, what it belongs
to, which entries prune removes (those of corpora no data folder holds) and removing them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sgpt_eval import caches
from sgpt_eval.cli import main
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.storage import sha256_file

from .beir_fixtures import DOCS, write_beir


@pytest.fixture(scope="module")
def filled(tiny_gpt_neo, tmp_path_factory) -> Path:
    """A folder with data/toy and the cache a dense run and a re-rank (top 2) on it leave."""
    root = tmp_path_factory.mktemp("filled")
    write_beir(root / "data" / "toy")
    common = ["--dataset", "toy", "--data-dir", str(root / "data"), "--output-dir", str(root / "out"),
              "--cache-dir", str(root / "cache"), "--model", str(tiny_gpt_neo)]
    assert main(["eval", *common, "--device", "cpu"]) == 0
    assert main(["rerank", *common, "--top-k", "2"]) == 0
    return root


@pytest.fixture
def root(filled, tmp_path) -> Path:
    """A copy of `filled` this test may change."""
    shutil.copytree(filled, tmp_path / "root")
    return tmp_path / "root"


def _by_kind(found: list[caches.Entry]) -> dict[str, caches.Entry]:
    return {entry.kind if entry.kind != "embeddings" else entry.path.name.split("-")[0]: entry for entry in found}


def test_each_entry_says_what_it_belongs_to(root, tiny_gpt_neo):
    found = caches.entries(root / "cache")
    assert [entry.kind for entry in found] == ["embeddings", "embeddings", "bm25", "rerank-scores"]
    entry = _by_kind(found)
    corpus = sha256_file(root / "data" / "toy" / "corpus.jsonl")

    assert (entry["doc"].corpus, entry["doc"].by_texts) == (corpus, False)
    assert entry["doc"].about.startswith(f"{tiny_gpt_neo} doc ") and entry["doc"].about.endswith(
        f" corpus {corpus[:12]} shards 1/1")
    assert (entry["query"].corpus, entry["query"].by_texts) == (None, True)
    assert entry["query"].about.startswith(f"{tiny_gpt_neo} query ") and " texts " in entry["query"].about
    assert (entry["bm25"].corpus, entry["bm25"].by_texts) == (corpus, False)
    assert entry["bm25"].about.startswith("bm25s ") and entry["bm25"].about.endswith(
        f" k1=1.5 b=0.75 method=lucene stemmer=english stopwords=en corpus {corpus[:12]}")
    scores = entry["rerank-scores"]
    assert (scores.corpus, scores.by_texts) == (None, True)
    assert [path.suffix for path in scores.files] == [".jsonl", ".json"]
    pairs = scores.path.read_text().count("\n")
    assert pairs > 0 and scores.about.startswith(f"{tiny_gpt_neo} ") and scores.about.endswith(f" {pairs} pairs")
    assert "template=asymmetric" in scores.about  # a known prompt by its name, not its text

    for item in found:
        files = [f for path in item.files for f in ([path] if path.is_file() else path.rglob("*")) if f.is_file()]
        assert item.size == sum(f.stat().st_size for f in files) > 0


def test_prune_removes_the_caches_of_corpora_no_data_folder_holds(root, tmp_path):
    found = caches.entries(root / "cache")
    entry = _by_kind(found)
    kept = caches.corpus_hashes([root / "data"])
    assert kept == {sha256_file(root / "data" / "toy" / "corpus.jsonl")}

    assert caches.stale(found, kept) == []
    assert caches.stale(found, kept, everything=True) == [entry["query"], entry["rerank-scores"]]

    write_beir(tmp_path / "other" / "toy", docs={**DOCS, "d4": ("New", "A document added since.")})
    changed = caches.corpus_hashes([tmp_path / "other"])
    assert caches.stale(found, changed) == [entry["doc"], entry["bm25"]]
    assert caches.stale(found, changed, everything=True) == found


def test_removing_entries_deletes_their_files_and_a_models_empty_folder(root):
    entry = _by_kind(caches.entries(root / "cache"))
    model_folder = entry["doc"].path.parent

    caches.remove(entry["doc"])
    assert not entry["doc"].path.exists() and model_folder.is_dir()  # its query embeddings remain
    caches.remove(entry["query"])
    assert not model_folder.exists()
    caches.remove(entry["rerank-scores"])
    assert not any(path.exists() for path in entry["rerank-scores"].files)
    assert [item.kind for item in caches.entries(root / "cache")] == ["bm25"]


def test_entries_without_a_readable_record_are_listed_as_such_and_always_pruned(tmp_path):
    cache = tmp_path / "cache"
    (cache / "bm25" / "old-index").mkdir(parents=True)
    (cache / "bm25" / "old-index" / "data.npy").write_bytes(b"x" * 10)
    (cache / "bm25" / "broken").mkdir()
    (cache / "bm25" / "broken" / "meta.json").write_text("{not json")
    (cache / "bm25" / ".tmp-being-written").mkdir()  # a write under way: not an entry
    (cache / "rerank_scores").mkdir()
    (cache / "rerank_scores" / "old.jsonl").write_text('{"a": 1}\n{"b": 2}\n')

    found = caches.entries(cache)

    assert [(entry.path.name, entry.about, entry.corpus) for entry in found] == [
        ("broken", caches.UNRECORDED, None), ("old-index", caches.UNRECORDED, None),
        ("old.jsonl", f"2 pairs; {caches.UNRECORDED}", None)]
    assert found[1].size == 10 and found[2].files == (cache / "rerank_scores" / "old.jsonl",)
    assert caches.stale(found, {"any corpus"}) == found[:2]


def test_corpus_hashes_refuse_folders_that_would_prune_everything(tmp_path):
    with pytest.raises(SgptEvalError, match=rf"^--data-dir {tmp_path / 'missing'}: not a folder; "):
        caches.corpus_hashes([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SgptEvalError, match=r"no corpus.jsonl under it, so every embedding and BM25 cache would go"):
        caches.corpus_hashes([tmp_path / "empty"])


@pytest.mark.parametrize("size, shown", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 1024**2, "5.0 MiB"),
                                         (3 * 1024**3, "3.0 GiB"), (2 * 1024**4, "2.0 TiB")])
def test_human_sizes(size, shown):
    assert caches.human_size(size) == shown
