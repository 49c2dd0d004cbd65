"""Small USEB datasets written byte for byte in USEB's data-eval formats, with fixed embeddings.

Each query text embeds to (1, 0) and each candidate to a unit vector whose cosine with it is
chosen here, so the rankings, and the scores the tests expect, can be worked out by hand.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SHARED_USEB = Path(__file__).resolve().parents[1].parent / "shared" / "useb"
QUERY = (1.0, 0.0)


def at_cosine(similarity: float) -> tuple[float, float]:
    """The unit vector whose cosine with QUERY is `similarity`."""
    return (similarity, math.sqrt(1.0 - similarity**2))


class FixedEmbed:
    """An embedding function from a table of text -> vector; unknown texts are a test failure."""

    def __init__(self, vectors: dict[str, Sequence[float]]) -> None:
        self.vectors = vectors
        self.texts: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        return np.array([self.vectors[text] for text in texts], dtype=np.float32)


def real_twitterpara() -> Path:
    """The real TwitterPara test data beside the repository (required on CI)."""
    folder = SHARED_USEB / "twitterpara"
    if not (folder / "Twitter_URL_Corpus_test.txt").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing on CI")
        pytest.skip(f"real TwitterPara not found at {folder}")
    return folder


def useb_evaluator(name: str) -> ModuleType:
    """An evaluator module of the published useb package (installed with --no-deps; required on CI)."""
    try:
        return importlib.import_module(f"useb.evaluators.{name}")
    except ImportError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the useb package is needed on CI ({exc}): pip install --no-deps useb==0.0.1")
        pytest.skip(f"the useb package is not installed ({exc})")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# -- AskUbuntu ----------------------------------------------------------------------------
# Question 1: similar 3 and 5; by cosine the candidates rank 4 (.95), 2 (.9), 3 (.8), 6 (.7), 5 (.5).
# Question 8: similar 9; 9 and 10 share a title (a tie), and BM25 puts 10 first: 10, 9, 11, 12, 13.
# Question 7 lists no similar question and is skipped.
ASKUBUNTU_VECTORS = {
    "how do i install nvidia drivers ?": QUERY,
    "ubuntu freezes after login": QUERY,
    "nvidia driver install fails": at_cosine(0.9),
    "install proprietary drivers": at_cosine(0.8),
    "installing graphics drivers": at_cosine(0.95),
    "where are drivers stored": at_cosine(0.5),
    "driver for my printer": at_cosine(0.7),
    "freeze after login": at_cosine(0.9),
    "login screen loop": at_cosine(0.3),
    "wifi drops": at_cosine(0.2),
    "sound is muted": at_cosine(0.1),
    "grub rescue prompt": at_cosine(0.05),
}


def write_askubuntu(data_dir: Path) -> FixedEmbed:
    folder = data_dir / "askubuntu"
    titles = {
        "1": "how do i install nvidia drivers ?", "2": "nvidia driver install fails", "3": "install proprietary drivers",
        "4": "installing graphics drivers", "5": "where are drivers stored", "6": "driver for my printer",
        "7": "wifi drops", "8": "ubuntu freezes after login", "9": "freeze after login", "10": "freeze after login",
        "11": "login screen loop", "12": "sound is muted", "13": "grub rescue prompt",
    }
    pool = "".join(f"{qid}\t{title} \tthe body of {qid} ( with tokens )\n" for qid, title in titles.items())
    _write(folder / "text_tokenized.txt", pool)
    _write(folder / "test.txt", (
        "1\t3 5\t2 3 4 5 6\t12.5 3.0 7.25 1.0 9.0\n"
        "7\t\t2 3\t1.0 2.0\n"
        "8\t9\t9 10 11 12 13\t1.0 5.0 0.5 0.4 0.3\n"
    ))
    _write(folder / "dev.txt", "8\t11\t9 11 12\t3.0 2.0 1.0\n")
    return FixedEmbed(ASKUBUNTU_VECTORS)


# -- CQADupStack --------------------------------------------------------------------------
# android, test query q1 (duplicates d1, d3): the pool (q2 is a valid query, so it stays) ranks
#   d2 (.9), q2 (.8), d3 (.7), d1 (.5), d4 (.1), then 100 fillers below .05 (USEB needs 100 per forum).
# gis, 105 answers h0..h104 at falling cosines: g1's duplicate h104 is 105th (beyond the top 100),
#   g2's duplicate h0 is first.
GIS_ANSWERS = 105
FILLERS = 100


def cqadupstack_vectors() -> dict[str, tuple[float, float]]:
    vectors = {
        "how to root my phone": QUERY, "which gis format for rasters": QUERY, "reproject a shapefile": QUERY,
        "rooting guide for android": at_cosine(0.5), "root access on phone": at_cosine(0.9),
        "phone rooting steps": at_cosine(0.7), "unlock the bootloader": at_cosine(0.8), "battery drains": at_cosine(0.1),
    }
    vectors.update({f"gis answer {i}": at_cosine(0.99 - 0.009 * i) for i in range(GIS_ANSWERS)})
    vectors.update({f"android filler {i}": at_cosine(0.05 - 0.0004 * i) for i in range(FILLERS)})
    return vectors


def write_cqadupstack(data_dir: Path) -> FixedEmbed:
    folder = data_dir / "cqadupstack"
    corpus = {
        "android": {
            "q1": "how to root my phone", "d1": "rooting guide for android", "d2": "root access on phone",
            "d3": "phone rooting steps", "q2": "unlock the bootloader", "d4": "battery drains",
            **{f"f{i}": f"android filler {i}" for i in range(FILLERS)},
        },
        "gis": {"g1": "which gis format for rasters", "g2": "reproject a shapefile",
                **{f"h{i}": f"gis answer {i}" for i in range(GIS_ANSWERS)}},
    }
    split = {
        "valid": {"android": {"q2": ["d1"]}, "gis": {"h3": ["h4"]}},
        "test": {"android": {"q1": ["d1", "d3"]}, "gis": {"g1": [f"h{GIS_ANSWERS - 1}"], "g2": ["h0"]}},
    }
    _write(folder / "corpus.json", json.dumps(corpus))
    _write(folder / "retrieval_split.json", json.dumps(split))
    return FixedEmbed(cqadupstack_vectors())


# -- TwitterPara --------------------------------------------------------------------------
# Twitter-URL: votes 5, 1, 3, 4 at cosines .9, .8, .75, .7 (the 3-vote pair is left out of AP).
# PIT: votes 5, 0, 3, 2 at cosines .2, .5, .05, .1.
TWITTERPARA_VECTORS = {
    "the senate passed the bill": QUERY, "storm hits the coast": QUERY,
    "senate passes the bill": at_cosine(0.9), "bill news today": at_cosine(0.8),
    "the bill is law now": at_cosine(0.75), "senators approve the bill": at_cosine(0.7),
    "storm reaches coast": at_cosine(0.2), "nice weather": at_cosine(0.5),
    "coast storm warning": at_cosine(0.05), "storm coming": at_cosine(0.1),
}


def write_twitterpara(data_dir: Path) -> FixedEmbed:
    folder = data_dir / "twitterpara"
    _write(folder / "Twitter_URL_Corpus_test.txt", (
        "the senate passed the bill \tsenate passes the bill \t(5,6)\thttps://t.co/a\n"
        "the senate passed the bill \tbill news today\t(1,6)\tthe linked page's title \n"
        "\n"
        "the senate passed the bill \tthe bill is law now\t(3,6)\t\thttps://t.co/a\n"
        "the senate passed the bill \tsenators approve the bill\t(4, 6)\thttps://t.co/a\n"
    ))
    pit = [("storm reaches coast", 5), ("nice weather", 0), ("coast storm warning", 3), ("storm coming", 2)]
    _write(folder / "test.data", "".join(
        f"7\tStorm\tstorm hits the coast\t{s2}\t{votes}\tstorm/O/NN/B-NP/O\t{s2}/O/NN/B-NP/O\n" for s2, votes in pit
    ))
    _write(folder / "test.label", "true\t1.0000\nfalse\t0.0000\n----\t0.6000\nfalse\t0.4000\n")
    return FixedEmbed(TWITTERPARA_VECTORS)


# -- SciDocs ------------------------------------------------------------------------------
# Query paper p1 at QUERY; c1 .9, c2 .95, c3 .5, c4 .7; c5 has no title (left out, but still
# judged relevant for cite); p2 has an empty title, so it is not a query.
SCIDOCS_VECTORS = {
    "attention is all you need": QUERY,
    "transformers for translation": at_cosine(0.9), "sequence models survey": at_cosine(0.95),
    "convolutional seq2seq": at_cosine(0.5), "recurrent attention": at_cosine(0.7),
}


def write_scidocs(data_dir: Path) -> FixedEmbed:
    corpus = {
        "p1": {"title": "attention is all you need", "abstract": "..."},
        "c1": {"title": "transformers for translation"}, "c2": {"title": "sequence models survey"},
        "c3": {"title": "convolutional seq2seq"}, "c4": {"title": "recurrent attention"},
        "c5": {"title": None}, "p2": {"title": ""},
    }
    test = {
        "cite": {"p1": {"c1": 1, "c2": 0, "c3": 1, "c5": 1}, "p2": {"c1": 1}},
        "cocite": {"p1": {"c1": 0, "c4": 1}},
        "coread": {"p1": {"c2": 1, "c3": 0}},
        "coview": {"p1": {"c3": 1, "c4": 1, "c1": 0}},
    }
    valid = {task: {"p1": {"c4": 1, "c2": 0}} for task in test}
    _write(data_dir / "scidocs" / "data.json", json.dumps({"corpus": corpus, "valid": valid, "test": test}))
    return FixedEmbed(SCIDOCS_VECTORS)
