"""USEB's `data-eval` folders on disk, read exactly as USEB's own evaluators read them.

Layout (one folder per dataset under the data directory):
- askubuntu/: `text_tokenized.txt` (id TAB title TAB body), `dev.txt` / `test.txt`
  (id TAB similar ids TAB the 20 BM25 candidate ids TAB their BM25 scores, lists space-separated)
- cqadupstack/: `corpus.json` ({forum: {id: text}}), `retrieval_split.json`
  ({"valid"|"test": {forum: {query id: [duplicate ids]}}})
- twitterpara/: `Twitter_URL_Corpus_test.txt` (sentence TAB sentence TAB "(votes, annotators)" ...),
  `test.data` (PIT-2015: topic id TAB topic TAB sentence TAB sentence TAB votes ...), `test.label`
- scidocs/: `data.json` ({"corpus": {id: {"title": ...}}, "valid"|"test": {task: {id: {id: relevance}}}})

Every file read is hashed into the report. A malformed line is an error naming file and line;
nothing in the data is ever evaluated as code (TwitterPara's `(4, 1)` labels go through a regex).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SgptEvalError
from ..storage import sha256_file

log = logging.getLogger(__name__)

DATASETS = ("askubuntu", "cqadupstack", "twitterpara", "scidocs")
SPLITS = ("valid", "test")
FILES = {
    "askubuntu": ("text_tokenized.txt", "dev.txt", "test.txt"),
    "cqadupstack": ("corpus.json", "retrieval_split.json"),
    "twitterpara": ("Twitter_URL_Corpus_test.txt", "test.data", "test.label"),
    "scidocs": ("data.json",),
}
# Twitter-URL labels are "(paraphrase votes, annotators)", e.g. "(4,6)".
_VOTES = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_INTEGER = re.compile(r"\d+")


def missing_files(data_dir: Path, name: str) -> list[str]:
    return [file for file in FILES[name] if not (data_dir / name / file).is_file()]


@dataclass(frozen=True)
class AskUbuntuQuestion:
    qid: str
    relevant: tuple[str, ...]
    candidates: tuple[str, ...]  # by BM25 score, highest first; ties keep the file's order


@dataclass
class AskUbuntu:
    titles: dict[str, str]  # USEB's main AskUbuntu figure ranks by titles only
    questions: list[AskUbuntuQuestion]  # those with at least one similar question


@dataclass
class Forum:
    queries: dict[str, str]
    pool: dict[str, str]  # the forum's questions minus every query of the split
    relevant: dict[str, list[str]]


@dataclass
class CQADupStack:
    forums: dict[str, Forum]


@dataclass(frozen=True)
class ParaPair:
    s1: str
    s2: str
    votes: int  # annotators who called it a paraphrase: > 3 yes, < 3 no, 3 left out of AP


@dataclass
class TwitterPara:
    subsets: dict[str, list[ParaPair]]  # "twitterurl" (Twitter-URL corpus) and "pit" (PIT-2015)


@dataclass
class SciDocs:
    titles: dict[str, str]  # "" where the paper has no title; such papers are left out, as USEB does
    tasks: dict[str, dict[str, dict[str, int]]]  # cite, cocite, coread, coview: qrels per query paper


@dataclass
class UsebData:
    name: str
    split: str
    content: AskUbuntu | CQADupStack | TwitterPara | SciDocs
    files: dict[str, Path] = field(default_factory=dict)

    def file_hashes(self) -> dict[str, str]:
        return {role: sha256_file(path) for role, path in self.files.items()}


def load(name: str, data_dir: Path, split: str = "test") -> UsebData:
    """Read one dataset's split; SgptEvalError (one line) when files are missing or malformed."""
    if name not in FILES:
        raise SgptEvalError(f"unknown USEB dataset '{name}': choose from {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise SgptEvalError(f"--split {split}: USEB has {' and '.join(SPLITS)}")
    folder = data_dir / name
    missing = missing_files(data_dir, name)
    if missing:
        raise SgptEvalError(
            f"{name}: {folder} lacks {', '.join(missing)}; unzip USEB's data-eval.zip so that {folder} holds its files, "
            "or pass --data-dir"
        )
    if name == "twitterpara" and split != "test":
        log.warning("TwitterPara has only a test split; evaluating on test, as USEB does")
        split = "test"
    readers = {"askubuntu": _askubuntu, "cqadupstack": _cqadupstack, "twitterpara": _twitterpara, "scidocs": _scidocs}
    content, used = readers[name](folder, split)
    return UsebData(name, split, content, {file: folder / file for file in used})


# -- AskUbuntu ----------------------------------------------------------------------------
def _askubuntu(folder: Path, split: str) -> tuple[AskUbuntu, list[str]]:
    pool_file = folder / "text_tokenized.txt"
    titles = {}
    for number, line in _lines(pool_file):
        fields = line.split("\t")
        if len(fields) != 3:
            raise _bad(pool_file, number, f"expected 3 tab-separated fields (id, title, body), found {len(fields)}")
        titles[fields[0]] = fields[1].strip()
    eval_name = "dev.txt" if split == "valid" else "test.txt"
    eval_file = folder / eval_name
    questions = []
    for number, line in _lines(eval_file):
        fields = line.split("\t")
        if len(fields) != 4:
            layout = "id, similar, candidates, BM25 scores"
            raise _bad(eval_file, number, f"expected 4 tab-separated fields ({layout}), found {len(fields)}")
        qid, relevant, candidates, scores = fields[0], fields[1].split(), fields[2].split(), fields[3].split()
        if not relevant:
            continue  # USEB skips questions without a similar one
        if len(candidates) != len(scores):
            raise _bad(eval_file, number, f"{len(candidates)} candidates but {len(scores)} BM25 scores")
        try:
            bm25 = [float(score) for score in scores]
        except ValueError:
            raise _bad(eval_file, number, "BM25 scores must be numbers") from None
        unknown = [i for i in (qid, *candidates) if i not in titles]
        if unknown:
            raise _bad(eval_file, number, f"id {unknown[0]} is not in text_tokenized.txt")
        if not set(relevant) & set(candidates):
            raise _bad(eval_file, number, "none of the similar questions is among the candidates")
        ranked = sorted(zip(candidates, bm25, strict=True), key=lambda pair: pair[1], reverse=True)
        questions.append(AskUbuntuQuestion(qid, tuple(relevant), tuple(c for c, _ in ranked)))
    return AskUbuntu(titles, questions), ["text_tokenized.txt", eval_name]


# -- CQADupStack --------------------------------------------------------------------------
def _cqadupstack(folder: Path, split: str) -> tuple[CQADupStack, list[str]]:
    corpus = _json(folder / "corpus.json")
    splits = _json(folder / "retrieval_split.json")
    if not isinstance(corpus, dict) or not all(_str_map(texts) for texts in corpus.values()):
        raise SgptEvalError(f"{folder / 'corpus.json'}: expected {{forum: {{id: text}}}}")
    qrels = splits.get(split) if isinstance(splits, dict) else None
    if not isinstance(qrels, dict):
        raise SgptEvalError(f"{folder / 'retrieval_split.json'}: no \"{split}\" object of {{forum: {{id: [ids]}}}}")
    forums = {}
    for forum, texts in corpus.items():
        judged = qrels.get(forum)
        if not isinstance(judged, dict) or not all(_str_list(ids) for ids in judged.values()):
            raise SgptEvalError(f"{folder / 'retrieval_split.json'}: \"{split}\" has no {{id: [ids]}} for forum {forum}")
        unknown = [qid for qid in judged if qid not in texts]
        if unknown:
            raise SgptEvalError(f"{folder / 'retrieval_split.json'}: {split} query {unknown[0]} is not in corpus.json[{forum}]")
        pool = {did: text for did, text in texts.items() if did not in judged}
        forums[forum] = Forum({qid: texts[qid] for qid in judged}, pool, judged)
    return CQADupStack(forums), ["corpus.json", "retrieval_split.json"]


# -- TwitterPara --------------------------------------------------------------------------
def _twitterpara(folder: Path, split: str) -> tuple[TwitterPara, list[str]]:
    url_file, pit_file = folder / "Twitter_URL_Corpus_test.txt", folder / "test.data"
    url_pairs = [
        ParaPair(fields[0], fields[1], _votes(fields[2], url_file, number))
        for number, fields in _tab_records(url_file, 3, "sentence, sentence, (votes, annotators)")
    ]
    pit_pairs = [
        ParaPair(fields[2], fields[3], _integer(fields[4], pit_file, number))
        for number, fields in _tab_records(pit_file, 5, "topic id, topic, sentence, sentence, votes")
    ]
    # test.label must be there, as USEB requires it, but is not read: USEB takes PIT's votes from test.data.
    return TwitterPara({"twitterurl": url_pairs, "pit": pit_pairs}), list(FILES["twitterpara"])


def _tab_records(path: Path, at_least: int, layout: str) -> Iterator[tuple[int, list[str]]]:
    """Tab-separated fields of each non-blank line, stripped as USEB strips them.

    Blank lines carry no pair: the real Twitter-URL test file has 250 of them, left where a
    record's last (unused) field ended in a line break.
    """
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) < at_least:
            raise _bad(path, number, f"expected at least {at_least} tab-separated fields ({layout}), found {len(fields)}")
        yield number, fields


def _votes(label: str, path: Path, number: int) -> int:
    match = _VOTES.fullmatch(label.strip())
    if match is None:
        raise _bad(path, number, f"label {label!r} is not of the form (votes, annotators)")
    return int(match.group(1))


def _integer(label: str, path: Path, number: int) -> int:
    if _INTEGER.fullmatch(label.strip()) is None:
        raise _bad(path, number, f"label {label!r} is not a vote count")
    return int(label)


# -- SciDocs ------------------------------------------------------------------------------
def _scidocs(folder: Path, split: str) -> tuple[SciDocs, list[str]]:
    path = folder / "data.json"
    data = _json(path)
    corpus = data.get("corpus") if isinstance(data, dict) else None
    tasks = data.get(split) if isinstance(data, dict) else None
    if not isinstance(corpus, dict) or not all(isinstance(paper, dict) for paper in corpus.values()):
        raise SgptEvalError(f"{path}: no \"corpus\" object of {{id: {{\"title\": ...}}}}")
    if not isinstance(tasks, dict) or not all(_qrels(qrels) for qrels in tasks.values()):
        raise SgptEvalError(f"{path}: no \"{split}\" object of {{task: {{id: {{id: relevance}}}}}}")
    titles = {pid: paper.get("title") or "" for pid, paper in corpus.items()}
    if not all(isinstance(title, str) for title in titles.values()):
        raise SgptEvalError(f"{path}: every corpus title must be a string or null")
    return SciDocs(titles, tasks), ["data.json"]


# -- helpers ------------------------------------------------------------------------------
def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise SgptEvalError(f"{path}: not UTF-8 text ({exc.reason}); re-download USEB's data-eval.zip") from None


def _json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise SgptEvalError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg}); re-download USEB's data-eval.zip") from None
    except UnicodeDecodeError as exc:
        raise SgptEvalError(f"{path}: not UTF-8 text ({exc.reason}); re-download USEB's data-eval.zip") from None


def _bad(path: Path, number: int, what: str) -> SgptEvalError:
    return SgptEvalError(f"{path} line {number}: {what}; fix the line or re-download USEB's data-eval.zip")


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _qrels(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(docs, dict) and all(type(rel) is int for rel in docs.values()) for docs in value.values()
    )
