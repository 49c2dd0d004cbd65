"""The corpus read back from disk: the same texts as reading it all, mapping and sequence
semantics, a file changed after reading, and a corpus sent to another process."""

from __future__ import annotations

import codecs
import json
import os
import pickle
from collections.abc import Mapping
from pathlib import Path

import pytest

from sgpt_eval.data import beir, corpus as corpus_module
from sgpt_eval.data.corpus import document_text
from sgpt_eval.errors import SgptEvalError

LINES = [
    {"_id": "d1", "title": "Mitochondria", "text": "Mitochondria produce ATP."},
    {"_id": "d2", "title": None, "text": "A null title is no title."},
    {"_id": "d3", "text": "No title at all."},
    {"_id": "é-4", "title": "Ünïcödé ✓ 🧬", "text": "Ωmega — “quoted” text\twith a tab."},
    {"_id": "d\ud800", "title": "", "text": "An id with a lone surrogate, as JSON's escapes allow."},
    {"_id": "d6", "title": "  padded  ", "text": "  both sides  "},
]


def _write(path: Path, rows=LINES, newline: str = "\n", bom: bool = False, blank: str = "") -> Path:
    """`rows` as JSON lines ending in `newline`, a `blank` line after every second one, the last
    line without its newline."""
    lines = []
    for number, row in enumerate(rows, start=1):
        lines.append(json.dumps(row))
        if number % 2 == 0 and number < len(rows):
            lines.append(blank)
    data = newline.join(lines).encode("utf-8", "surrogatepass")
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def _eager_texts(path: Path) -> list[str]:
    """What reading every document into memory gives (the reader before the corpus was streamed)."""
    raw = path.read_bytes().removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogatepass")
    rows = [json.loads(line) for line in raw.split("\n") if line.strip()]
    return [document_text({"title": row.get("title") or "", "text": row["text"]}) for row in rows]


@pytest.mark.parametrize("newline, bom, blank", [("\n", False, ""), ("\r\n", True, "  \t"), ("\n", True, "\u3000")])
def test_texts_read_back_equal_reading_everything(tmp_path, newline, bom, blank):
    path = _write(tmp_path / "corpus.jsonl", newline=newline, bom=bom, blank=blank)
    corpus = beir.read_corpus(path)
    assert list(corpus.texts()) == _eager_texts(path)
    assert corpus.texts()[0] == "Mitochondria Mitochondria produce ATP."
    assert corpus.texts()[-1] == "padded     both sides"  # only the ends are stripped
    assert corpus.texts()[3] == "Ünïcödé ✓ 🧬 Ωmega — “quoted” text\twith a tab."


def test_slices_and_chosen_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "BLOCK", 2)  # runs of consecutive documents split across reads
    path = _write(tmp_path / "corpus.jsonl")
    eager = _eager_texts(path)
    texts = beir.read_corpus(path).texts()
    assert len(texts) == 6 and texts[1:5] == eager[1:5] and texts[::2] == eager[::2] and texts[4:99] == eager[4:]
    assert texts[5:1] == [] and list(reversed(texts)) == eager[::-1]
    with pytest.raises(IndexError):
        texts[6]
    corpus = beir.read_corpus(path)
    chosen = corpus.texts(["d6", "d1", "d2", "d3", "d1"])
    assert chosen == [eager[5], eager[0], eager[1], eager[2], eager[0]] and len(chosen) == 5
    assert corpus.texts(list(corpus.docs)) == eager
    with pytest.raises(KeyError):
        corpus.texts(["d1", "absent"])


def test_documents_are_a_read_only_mapping_in_file_order(tmp_path):
    docs = beir.read_corpus(_write(tmp_path / "corpus.jsonl")).docs
    assert isinstance(docs, Mapping) and len(docs) == 6
    assert list(docs) == [row["_id"] for row in LINES]
    assert docs["d2"] == {"title": "", "text": "A null title is no title."}
    assert docs["d\ud800"]["text"].startswith("An id with a lone surrogate")
    assert "é-4" in docs and "d4" not in docs and 1 not in docs and "d" not in docs
    assert docs.get("absent") is None
    with pytest.raises(KeyError):
        docs["absent"]
    with pytest.raises(TypeError):
        docs["d1"] = {"title": "", "text": "x"}  # type: ignore[index]


def test_ids_whose_checksums_collide_are_told_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module.zlib, "crc32", lambda data: 7)
    path = _write(tmp_path / "corpus.jsonl")
    corpus = beir.read_corpus(path)
    assert [corpus.docs[row["_id"]]["text"] for row in LINES] == [row["text"] for row in LINES]
    rows = [*LINES, {"_id": "d3", "text": "again"}, {"_id": "d1", "text": "again"}]
    _write(path, rows)
    with pytest.raises(SgptEvalError) as error:
        beir.read_corpus(path)
    assert str(error.value) == (f"{path}:10: _id 'd3' is also on line 4; each id must appear once, "
                                "fix or re-download the file")


@pytest.mark.parametrize("change", ["append", "same size, new time"])
def test_a_file_changed_after_reading_is_an_error(tmp_path, change):
    path = _write(tmp_path / "corpus.jsonl")
    corpus = beir.read_corpus(path)
    if change == "append":
        with open(path, "a") as out:
            out.write('\n{"_id": "d7", "text": "new"}')
    else:
        path.write_bytes(path.read_bytes().replace(b"Mitochondria", b"Chloroplasts"))
        os.utime(path, ns=(corpus.when_read[1] + 10**9, corpus.when_read[1] + 10**9))
    message = f"{path}: changed since it was read (its size or modification time differ, or it is gone); " \
              "run again so that it is read afresh"
    for read in (lambda: corpus.texts()[0:2], lambda: corpus.docs["d1"], lambda: list(corpus.texts())):
        with pytest.raises(SgptEvalError) as error:
            read()
        assert str(error.value) == message
    assert "d1" in corpus.docs  # ids are kept in memory: asking for one reads nothing


def test_a_pickled_corpus_holds_no_text_and_reads_the_same(tmp_path):
    path = _write(tmp_path / "corpus.jsonl")
    corpus = beir.read_corpus(path)
    sent = pickle.dumps(corpus)
    assert b"Mitochondria" not in sent and b"d1" in sent  # a path, offsets and ids: cheap to send to a worker
    received = pickle.loads(sent)
    assert list(received.texts()) == _eager_texts(path) and received.docs["d3"] == corpus.docs["d3"]


def test_a_subset_reads_the_candidates_once_in_file_order(tmp_path):
    corpus = beir.read_corpus(_write(tmp_path / "corpus.jsonl"))
    subset = corpus.subset(["d6", "é-4", "d6", "d1"])
    assert list(subset) == ["d1", "é-4", "d6"]
    assert subset == {doc_id: corpus.docs[doc_id] for doc_id in ("d1", "é-4", "d6")}
