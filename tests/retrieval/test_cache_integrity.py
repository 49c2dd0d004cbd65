"""Caches that cannot lie: a damaged embedding shard or score row is found, named, and only it
is computed again, giving exactly the clean run's numbers; `sgpt-eval cache list` and `prune`."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from sgpt_eval.cli import main
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder
from sgpt_eval.models.score_cache import CachedScorer, ScoreCache
from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.retrieval.embedding_cache import EmbeddingCache
from sgpt_eval.storage import sha256_file

from ..beir_fixtures import write_beir
from ..encoders import make_bi_encoder, make_cross_encoder

TEXTS = [f"document number {i} about topic {i % 3}" for i in range(10)]  # shards of 4, 4 and 2 rows
PAIRS = [(f"query {q}", f"document {d} on subject {q + d}") for q in range(2) for d in range(3)]


class CountingEncoder:
    """The real encoder, counting the texts it encodes."""

    def __init__(self, encoder: SGPTBiEncoder) -> None:
        self.inner, self.settings, self.encoded = encoder, encoder.settings, 0

    def encode_shards(self, jobs, texts, kind):
        for job in jobs:
            self.encoded += job.rows
            yield job, self.inner.encode(texts[job.start:job.stop], kind, show_progress_bar=False)


@pytest.fixture(scope="module")
def encoder(tiny_gpt_neo, tmp_path_factory) -> SGPTBiEncoder:
    return make_bi_encoder(tiny_gpt_neo, tmp_path_factory.mktemp("c"), specb=True, device="cpu")


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def _replace_array(array: np.ndarray):
    def damage(path: Path) -> None:
        np.save(path, array, allow_pickle=False)
    return damage


DAMAGES = {
    "truncated": (lambda path: path.write_bytes(path.read_bytes()[:200]), "not a readable .npy file ("),
    "one flipped byte": (_flip_last_byte,
                         "its sha256 differs from the one in shard-00001.json (changed after it was written)"),
    "other values": (_replace_array(np.ones((4, 64), np.float32)), "its sha256 differs from the one in shard-00001.json"),
    "fewer rows": (_replace_array(np.ones((3, 64), np.float32)),
                   "holds float32 (3, 64), its record says float32 (4, 64)"),
    "another dtype": (_replace_array(np.ones((4, 64), np.float64)),
                      "holds float64 (4, 64), its record says float32 (4, 64)"),
    "no record": (lambda path: path.with_suffix(".json").unlink(),
                  "no record shard-00001.json (its write did not finish, or an older version wrote it)"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_shard_alone_is_encoded_again(encoder, tmp_path, caplog, damage):
    cache = EmbeddingCache(tmp_path, shard_size=4)
    clean, _ = cache.encode(CountingEncoder(encoder), TEXTS, "doc", "hash-1")
    shard = cache.folder(encoder, "doc", "hash-1") / "shard-00001.npy"
    spoil, why = DAMAGES[damage]
    spoil(shard)

    repaired = CountingEncoder(encoder)
    vectors, reused = cache.encode(repaired, TEXTS, "doc", "hash-1")
    assert (repaired.encoded, reused) == (4, 2)  # the four texts of the damaged shard, nothing else
    np.testing.assert_array_equal(vectors, clean)
    assert f"{shard}: {why}" in caplog.text and "encoding it again" in caplog.text

    caplog.clear()
    again = CountingEncoder(encoder)
    assert cache.encode(again, TEXTS, "doc", "hash-1")[1] == 3 and again.encoded == 0 and not _warnings(caplog)


def _warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


class CountingScorer:
    """A deterministic stand-in for the model's forward pass, counting the pairs it scores."""

    def __init__(self) -> None:
        self.scored = 0

    def __call__(self, batch, pairs) -> list[float]:
        rows = [pairs[i] for _, members in batch for i in members]
        self.scored += len(rows)
        return [-(sum(pair.query) % 997) / 7 - len(pair.prefix) / 3 for pair in rows]


@pytest.fixture(scope="module")
def scorer(tiny_gpt_neo) -> SGPTCrossEncoder:
    return make_cross_encoder(tiny_gpt_neo, batch_size=4)


def _score(scorer: SGPTCrossEncoder, cache_dir: Path) -> tuple[list[float], int, Path]:
    """Score PAIRS as a new process would (the cache read afresh); also how many pairs ran and the file."""
    model = copy.copy(scorer)
    model.run_batch = CountingScorer()
    run = CachedScorer(model, ScoreCache.for_settings(cache_dir, scorer.settings.as_dict()))
    scores = run.predict(PAIRS, show_progress_bar=False)
    return scores, model.run_batch.scored, run.cache.path


def test_bad_score_rows_alone_are_scored_again(scorer, tmp_path, caplog):
    clean, scored, path = _score(scorer, tmp_path)
    assert scored == len(PAIRS)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["score"] = float("nan")
    rows[3]["score"] += 1.0
    del rows[4]["check"]  # as an older version wrote it
    path.write_text("".join(json.dumps(row) + "\n" for row in rows[:2]) + "not json\n"
                    + "".join(json.dumps(row) + "\n" for row in rows[2:]))

    scores, scored, _ = _score(scorer, tmp_path)
    assert scored == 3 and scores == clean
    assert (f"{path}: ignored 4 bad rows (1 not a finite number, 1 unreadable, 1 checksum mismatch, "
            "1 without a check (an older version's)); those pairs are scored again") in caplog.text
    caplog.clear()
    scores, scored, _ = _score(scorer, tmp_path)
    assert (scored, scores) == (0, clean) and not _warnings(caplog)
    assert len(path.read_text().splitlines()) == len(PAIRS)  # bad rows cut, good ones and the new scores kept


def test_a_non_finite_score_is_never_cached(tmp_path):
    cache = ScoreCache.for_settings(tmp_path, {"model": "m"})
    cache.add([("a", float("nan")), ("b", float("-inf")), ("c", -1.5)])
    assert ScoreCache(cache.path).scores == {"c": -1.5}


def _run(tmp_path: Path, data_dir: Path, command: str, *options: str) -> dict:
    """Run `command` on the toy dataset with the test's cache folder; its report."""
    assert main([command, "--dataset", "toy", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "out"),
                 "--cache-dir", str(tmp_path / "cache"), *options]) == 0
    method = "dense" if command == "eval" else command
    return json.loads(next((tmp_path / "out" / "beir" / "toy" / method).glob("*.json")).read_text())


def _dense(tmp_path: Path, data_dir: Path, tiny_gpt_neo: Path) -> dict:
    return _run(tmp_path, data_dir, "eval", "--model", str(tiny_gpt_neo), "--shard-size", "2", "--device", "cpu")


def test_eval_with_a_damaged_shard_gives_the_clean_ndcg(tiny_gpt_neo, tmp_path, caplog):
    data_dir = write_beir(tmp_path / "data" / "toy").parent
    clean = _dense(tmp_path, data_dir, tiny_gpt_neo)
    shard = next((tmp_path / "cache" / "embeddings").glob("*/doc-*/shard-00001.npy"))
    _flip_last_byte(shard)
    repaired = _dense(tmp_path, data_dir, tiny_gpt_neo)
    assert repaired["details"]["embedding_cache"]["corpus_shards_reused"] == 1
    assert repaired["metrics"]["NDCG@10"] == clean["metrics"]["NDCG@10"]
    assert (repaired["metrics"], repaired["per_query"]) == (clean["metrics"], clean["per_query"])
    assert f"{shard}: its sha256 differs" in caplog.text



def test_rerank_with_a_nan_in_the_score_cache_gives_the_clean_ndcg(tiny_gpt_neo, tmp_path, caplog):
    data_dir = write_beir(tmp_path / "data" / "toy").parent
    rerank = ("rerank", "--model", str(tiny_gpt_neo), "--top-k", "3", "--device", "cpu")
    clean = _run(tmp_path, data_dir, *rerank)
    [scores] = (tmp_path / "cache" / "rerank_scores").glob("*.jsonl")
    lines = scores.read_text().splitlines()
    row = json.loads(lines[0])
    lines[0] = json.dumps({**row, "score": float("nan")})
    scores.write_text("\n".join(lines) + "\n")
    repaired = _run(tmp_path, data_dir, *rerank)
    assert repaired["details"]["pairs_from_score_cache"] == clean["details"]["pairs"] - 1
    assert (repaired["metrics"], repaired["per_query"]) == (clean["metrics"], clean["per_query"])
    assert f"{scores}: ignored 1 bad rows" in caplog.text

def _filled_cache(tmp_path: Path, tiny_gpt_neo: Path, scorer: SGPTCrossEncoder) -> Path:
    """A toy dataset, and a cache with its embeddings, its BM25 index and a score file."""
    data_dir = write_beir(tmp_path / "data" / "toy").parent
    _dense(tmp_path, data_dir, tiny_gpt_neo)
    _run(tmp_path, data_dir, "bm25")
    _score(scorer, tmp_path / "cache")
    return data_dir


def _cache(capsys, *argv: str) -> tuple[int, list[str], str]:
    capsys.readouterr()  # what earlier commands printed
    code = main(["cache", *argv])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_cache_list_says_what_each_entry_belongs_to(tiny_gpt_neo, scorer, tmp_path, capsys):
    data_dir = _filled_cache(tmp_path, tiny_gpt_neo, scorer)
    corpus = sha256_file(data_dir / "toy" / "corpus.jsonl")[:12]
    code, lines, _ = _cache(capsys, "list", "--cache-dir", str(tmp_path / "cache"))
    assert code == 0
    by_kind = {}
    for line in lines[:-1]:
        kind, size, about, path = line.split("\t")
        by_kind.setdefault(kind, []).append(about)
        assert size.endswith("B") and Path(path).exists()
    docs, queries = sorted(by_kind["embeddings"])
    assert docs.startswith(f"{tiny_gpt_neo} doc revision=") and "specb=False max_length=512 dtype=float32" in docs
    assert docs.endswith(f"corpus {corpus} shards 2/2")
    assert queries.startswith(f"{tiny_gpt_neo} query ") and queries.endswith("shards 2/2")
    [index] = by_kind["bm25"]
    assert "k1=1.5 b=0.75 method=lucene" in index and index.endswith(f"corpus {corpus}")
    [scores] = by_kind["rerank-scores"]
    assert scores.startswith(f"{tiny_gpt_neo} revision=sha256-") and " template=asymmetric max_length=" in scores
    assert scores.endswith(" 6 pairs")
    assert lines[-1].startswith("total\t") and lines[-1].endswith(f"4 entries in {tmp_path / 'cache'}")


def test_cache_prune_removes_what_no_corpus_needs(tiny_gpt_neo, scorer, tmp_path, capsys):
    data_dir = _filled_cache(tmp_path, tiny_gpt_neo, scorer)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    code, lines, _ = _cache(capsys, "prune", "--data-dir", str(data_dir), *cache)
    assert (code, lines) == (0, [f"freed\t0 B\t0 of 4 entries in {tmp_path / 'cache'}"])

    other = write_beir(tmp_path / "other" / "toy", docs={"x": ("", "another corpus")}).parent
    code, dry, _ = _cache(capsys, "prune", "--data-dir", str(other), "--dry-run", *cache)
    assert code == 0 and [line.split("\t")[:2] for line in dry[:-1]] == [["would remove", "embeddings"],
                                                                         ["would remove", "bm25"]]
    assert dry[-1].startswith("would free\t") and _cache(capsys, "list", *cache)[1][-1].endswith("4 entries in " + cache[1])

    code, removed, _ = _cache(capsys, "prune", "--data-dir", str(other), *cache)
    assert code == 0 and [line.replace("would remove", "removed") for line in dry[:-1]] == removed[:-1]
    assert removed[-1].startswith("freed\t") and removed[-1].endswith(f"2 of 4 entries in {cache[1]}")
    kept = [line.split("\t")[0] for line in _cache(capsys, "list", *cache)[1][:-1]]
    assert kept == ["embeddings", "rerank-scores"]  # the query embeddings and the scores are keyed by texts

    code, lines, _ = _cache(capsys, "prune", "--data-dir", str(other), "--all", *cache)
    assert code == 0 and lines[-1].endswith(f"2 of 2 entries in {cache[1]}")
    assert not [path for path in (tmp_path / "cache").rglob("*") if path.is_file()]


def test_cache_prune_removes_an_index_with_no_record(tmp_path, capsys):
    data_dir = write_beir(tmp_path / "data" / "toy").parent
    _run(tmp_path, data_dir, "bm25")
    (index,) = (tmp_path / "cache" / "bm25").iterdir()
    (index / "meta.json").unlink()  # as an older version wrote it
    code, lines, _ = _cache(capsys, "prune", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"))
    verb, kind, _, about, path = lines[0].split("\t")
    assert code == 0 and (verb, kind, path) == ("removed", "bm25", str(index))
    assert about == "no readable record of what it belongs to"
    assert not index.exists()


@pytest.mark.parametrize("folder, message", [
    ("absent", "--data-dir {d}: not a folder; give the BEIR data folder(s) whose datasets' caches to keep"),
    ("empty", "--data-dir {d}: no corpus.jsonl under it, so every embedding and BM25 cache would go; nothing pruned."),
])
def test_cache_prune_refuses_a_data_folder_without_corpora(tmp_path, capsys, folder, message):
    (tmp_path / "empty").mkdir()
    stray = tmp_path / "cache" / "bm25" / "0123"
    stray.mkdir(parents=True)
    code, lines, err = _cache(capsys, "prune", "--data-dir", str(tmp_path / folder), "--cache-dir", str(tmp_path / "cache"))
    assert code == 2 and not lines and stray.is_dir()
    assert err.startswith(f"sgpt-eval: error: {message.format(d=tmp_path / folder)}") and len(err.splitlines()) == 1
