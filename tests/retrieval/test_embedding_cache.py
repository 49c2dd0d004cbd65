"""The embedding cache: a second run encodes nothing; an interrupted run resumes."""

import numpy as np
import pytest

from sgpt_eval.retrieval.embedding_cache import EmbeddingCache
from sgpt_eval.storage import digest
from ..encoders import make_bi_encoder

TEXTS = [f"document number {i} about topic {i % 3}" for i in range(10)]


class CountingEncoder:
    """Wraps the real encoder, counting calls and failing on demand (a simulated kill)."""

    def __init__(self, encoder, fail_on_call=None):
        self.inner, self.calls, self.fail_on_call = encoder, 0, fail_on_call
        self.settings = encoder.settings

    def encode_shards(self, jobs, texts, kind):
        for job in jobs:
            self.calls += 1
            if self.calls == self.fail_on_call:
                raise KeyboardInterrupt
            yield job, self.inner.encode(texts[job.start:job.stop], kind, show_progress_bar=False)


@pytest.fixture(scope="module")
def encoder(tiny_gpt_neo, tmp_path_factory):
    return make_bi_encoder(tiny_gpt_neo, tmp_path_factory.mktemp("c"), specb=True, device="cpu")


def test_second_run_skips_encoding(encoder, tmp_path):
    cache = EmbeddingCache(tmp_path, shard_size=4)
    first = CountingEncoder(encoder)
    vectors, reused = cache.encode(first, TEXTS, "doc", "hash-1")
    assert (first.calls, reused) == (3, 0)
    second = CountingEncoder(encoder)
    again, reused = cache.encode(second, TEXTS, "doc", "hash-1")
    assert (second.calls, reused) == (0, 3)
    np.testing.assert_array_equal(vectors, again)
    np.testing.assert_allclose(vectors, encoder.encode(TEXTS, "doc", show_progress_bar=False), atol=1e-6)


def test_interrupted_encode_resumes_from_finished_shards(encoder, tmp_path):
    cache = EmbeddingCache(tmp_path, shard_size=4)
    with pytest.raises(KeyboardInterrupt):
        cache.encode(CountingEncoder(encoder, fail_on_call=3), TEXTS, "doc", "hash-1")
    folder = cache.folder(encoder, "doc", "hash-1")
    assert sorted(p.name for p in folder.glob("shard-*.npy")) == ["shard-00000.npy", "shard-00001.npy"]
    assert not list(folder.glob("*.tmp"))
    resumed = CountingEncoder(encoder)
    _, reused = cache.encode(resumed, TEXTS, "doc", "hash-1")
    assert (resumed.calls, reused) == (1, 2)


def test_key_changes_with_settings_and_content(encoder, tmp_path, tiny_gpt_neo):
    cache = EmbeddingCache(tmp_path)
    other = make_bi_encoder(tiny_gpt_neo, tmp_path, specb=False, device="cpu")
    assert cache.folder(encoder, "doc", "a") != cache.folder(other, "doc", "a")
    assert cache.folder(encoder, "doc", "a") != cache.folder(encoder, "doc", "b")
    assert cache.folder(encoder, "doc", "a") != cache.folder(encoder, "query", "a")


def test_float32_entries_keep_the_folder_they_had(encoder, tmp_path):
    """The key as it was before float16 storage existed: existing caches stay valid."""
    cache = EmbeddingCache(tmp_path, shard_size=4)
    old_key = {"encoder": encoder.settings.as_dict(), "kind": "doc", "content": "hash-1", "shard_size": 4}
    assert cache.folder(encoder, "doc", "hash-1").name == f"doc-{digest(old_key, 20)}"
    assert cache.folder(encoder, "doc", "hash-1", "float32") == cache.folder(encoder, "doc", "hash-1")
    assert cache.folder(encoder, "doc", "hash-1", "float16") != cache.folder(encoder, "doc", "hash-1")


def test_float16_shards_are_memory_mapped_and_a_damaged_one_encoded_again(encoder, tmp_path, caplog):
    cache = EmbeddingCache(tmp_path, shard_size=4)
    shards, _ = cache.encode(CountingEncoder(encoder), TEXTS, "doc", "hash-1", dtype="float16")
    assert [type(shards[i]) for i in range(3)] == [np.memmap] * 3 and shards[0].dtype == np.float16
    clean = shards.concatenated()
    np.testing.assert_allclose(clean, encoder.encode(TEXTS, "doc", show_progress_bar=False), atol=2e-3)
    shard = cache.folder(encoder, "doc", "hash-1", "float16") / "shard-00002.npy"
    shard.write_bytes(shard.read_bytes()[:-3])
    repaired = CountingEncoder(encoder)
    vectors, reused = cache.encode(repaired, TEXTS, "doc", "hash-1", dtype="float16")
    assert (repaired.calls, reused) == (1, 2)
    assert f"{shard}: not a readable .npy file (" in caplog.text and "encoding it again" in caplog.text
    np.testing.assert_array_equal(vectors, clean)
