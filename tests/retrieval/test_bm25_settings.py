"""BM25 settings: bm25s' defaults, what enters the index's key, and readable without bm25s."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from sgpt_eval.retrieval.bm25_settings import BM25Settings


def test_the_defaults_are_bm25s_lucene_with_english_stemming_and_stopwords():
    assert BM25Settings().as_dict() == {"k1": 1.5, "b": 0.75, "method": "lucene", "stemmer": "english",
                                        "stopwords": "en"}


def test_every_field_is_in_the_key_and_settings_cannot_change_after_the_fact():
    anserini = BM25Settings(k1=0.9, b=0.4, stemmer=None, stopwords=None)
    assert anserini.as_dict() == {"k1": 0.9, "b": 0.4, "method": "lucene", "stemmer": None, "stopwords": None}
    assert set(anserini.as_dict()) == {field.name for field in dataclasses.fields(BM25Settings)}
    assert anserini != BM25Settings() and anserini == BM25Settings(0.9, 0.4, "lucene", None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        anserini.k1 = 1.2  # type: ignore[misc]


def test_reading_the_settings_loads_no_bm25_library():
    code = ("import sys; from sgpt_eval.retrieval.bm25_settings import BM25Settings; BM25Settings(); "
            "print(sorted(name for name in ('bm25s', 'Stemmer', 'torch') if name in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
