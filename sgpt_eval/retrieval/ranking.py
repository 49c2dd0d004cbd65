"""Rankings (query id -> document id -> score) and their files: TREC run files (`qid Q0 docid
rank score tag`, one line per retrieved document) and SGPT's JSON results (`{query_id: {doc_id:
score}}`), so that a published first stage, such as the SGPT paper's Elasticsearch BM25 top-100,
or any report's own ranking file, can be re-ranked or fused as it is (`RankingFile`). Either may
be gzip-compressed (`run.trec.gz`, as reports store their rankings) and is read the same."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ..data.beir import BeirDataset, text_lines, valid_id
from ..errors import SgptEvalError
from ..storage import atomic_gzip, atomic_open, gzip_checked, open_contents, sha256_contents
from ..timing import timed

log = logging.getLogger(__name__)

Ranking = dict[str, dict[str, float]]
FIRST_STAGE_REMEDY = "give --first-stage a ranking of this dataset and split"


def write_trec(path: Path, results: Ranking, tag: str) -> None:
    """Write atomically, after checking every id: an id with whitespace would shift the fields of
    its line, so it is refused before anything is written. A path ending in `.gz` is written
    gzip-compressed (a 1000-deep ranking shrinks about sixfold), byte for byte the same each time."""
    unwritable = _unwritable_id(results)
    if unwritable:
        raise SgptEvalError(f"{path}: cannot write {unwritable}: a TREC ranking file's ids must be non-empty and "
                            "without whitespace; change the id in the dataset (nothing was written)")
    tag = tag.replace(" ", "_")
    with (atomic_gzip if path.name.lower().endswith(".gz") else atomic_open)(path) as out:
        for query_id, hits in results.items():
            ranked = sorted(hits.items(), key=lambda item: (-item[1], item[0]))
            for rank, (doc_id, score) in enumerate(ranked, start=1):
                out.write(f"{query_id} Q0 {doc_id} {rank} {score:.6f} {tag}\n")


def _unwritable_id(results: Ranking) -> str | None:
    """The first id a TREC line cannot hold, described for an error message; None when all can."""
    for query_id, hits in results.items():
        if not valid_id(query_id):
            return f"query id {query_id!r}"
        bad = next((doc_id for doc_id in hits if not valid_id(doc_id)), None)
        if bad is not None:
            return f"document id {bad!r} (query {query_id!r})"
    return None


def read_ranking(path: Path) -> Ranking:
    """A `.json` (or `.json.gz`) file is read as SGPT's JSON results, anything else as a TREC run."""
    if not path.is_file():
        raise SgptEvalError(f"ranking file {path}: no such file")
    return read_sgpt_json(path) if path.name.lower().removesuffix(".gz").endswith(".json") else read_trec(path)


def read_trec(path: Path) -> Ranking:
    ranking: Ranking = {}
    for number, line in text_lines(path):
        if not line.strip():
            continue
        fields = line.split()
        try:
            if len(fields) != 6:
                raise ValueError
            query_id, _, doc_id, _, score, _ = fields
            value = float(score)
        except ValueError:
            raise SgptEvalError(
                f"{path}:{number}: expected 'query-id Q0 doc-id rank score tag' (6 fields, numeric score), "
                f"got {line.strip()!r}"
            ) from None
        if not math.isfinite(value):
            raise _not_finite(path, number, score)
        ranking.setdefault(query_id, {})[doc_id] = value
    return ranking


def _not_finite(path: Path, number: int | None, score: str) -> SgptEvalError:
    where = f"{path}:{number}" if number else str(path)
    return SgptEvalError(f"{where}: score {score} is not a finite number; a ranking cannot order it, "
                         "fix the system that wrote the file")


def read_sgpt_json(path: Path) -> Ranking:
    try:
        with gzip_checked(path), open_contents(path) as handle:
            text = handle.read().decode("utf-8-sig")
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SgptEvalError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise SgptEvalError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    if not isinstance(payload, dict):
        raise SgptEvalError(f"{path}: expected a JSON object {{query_id: {{doc_id: score}}}}")
    ranking: Ranking = {}
    for query_id, hits in payload.items():
        if not isinstance(hits, dict) or not all(_is_number(score) for score in hits.values()):
            raise SgptEvalError(f"{path}: query {query_id!r} must map document ids to numeric scores")
        ranking[str(query_id)] = {str(doc_id): float(score) for doc_id, score in hits.items()}
        if not all(map(math.isfinite, ranking[str(query_id)].values())):
            raise _not_finite(path, *_first_non_finite(text))
    return ranking


def _first_non_finite(text: str) -> tuple[int | None, str]:
    """The line and spelling of the first number in JSON `text` that Python reads as NaN or infinity."""
    for token in _NUMBER_OR_STRING.finditer(text):
        if token.group(1) and not math.isfinite(float(token.group(1))):
            return text.count("\n", 0, token.start()) + 1, token.group(1)
    return None, "NaN or infinity"


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# A JSON string (skipped, escapes included), or a number as Python's json reads them, NaN and
# Infinity included (group 1).
_NUMBER_OR_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|(NaN|-?Infinity|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)')


def top_k(ranking: Ranking, k: int) -> Ranking:
    """The k best documents of each query, its own id excluded (it never counts, as in BEIR)."""
    return {
        qid: dict(sorted(((did, s) for did, s in hits.items() if did != qid), key=lambda item: -item[1])[:k])
        for qid, hits in ranking.items()
    }


def restrict_to(ranking: Ranking, query_ids: Collection[str], doc_ids: Collection[str], source: Path,
                remedy: str = FIRST_STAGE_REMEDY) -> Ranking:
    """Keep the entries naming queries and documents of the dataset; warn with counts of the rest,
    and refuse a file of which nothing is left (another dataset's, or another split's, ranking)."""
    kept: Ranking = {}
    unknown_queries = unknown_docs = 0
    for query_id, hits in ranking.items():
        if query_id not in query_ids:
            unknown_queries += 1
            continue
        kept[query_id] = {doc_id: score for doc_id, score in hits.items() if doc_id in doc_ids}
        unknown_docs += len(hits) - len(kept[query_id])
    if unknown_queries or unknown_docs:
        log.warning(
            "%s: dropped %d queries that are not among the %d judged queries evaluated and %d entries naming "
            "documents absent from the corpus", source, unknown_queries, len(query_ids), unknown_docs,
        )
    if not any(kept.values()):
        raise SgptEvalError(
            f"{source}: nothing in it matches the dataset (no entry pairs one of the {len(query_ids)} judged queries "
            f"evaluated with a corpus document); {remedy}")
    return kept


@dataclass(frozen=True)
class RankingFile:
    """A finished ranking on disk as a stage of a run: the first stage a re-ranker re-scores, or
    one input of a fusion. It is identified by the hash of its contents (decompressed: the same
    ranking plain or gzip is the same input) and, when it is a report's ranking, by that report
    (`report`: its digest, method, model, dataset and split)."""

    path: Path
    sha256: str
    report: dict | None = None
    method = "ranking_file"

    @classmethod
    def of(cls, path: Path, report: dict | None = None) -> RankingFile:
        return cls(Path(path), sha256_contents(path), report)

    def model_settings(self) -> None:
        return None

    def settings(self) -> dict:
        """What identifies it in a run's identity: its hash, and its report's digest and system."""
        if self.report is None:
            return {"sha256": self.sha256}
        return {"sha256": self.sha256, "report": self.report["digest"],
                "system": f"{self.report['method']}:{self.report['model']}"}

    def retrieve(self, dataset: BeirDataset, timings: dict[str, float],
                 remedy: str = FIRST_STAGE_REMEDY) -> tuple[Ranking, dict]:
        """The ranking restricted to the dataset's judged queries (in their order) and documents."""
        with timed(timings, "read_ranking"):
            ranking = restrict_to(read_ranking(self.path), dataset.queries, dataset.corpus.docs, self.path, remedy)
        return {qid: ranking[qid] for qid in dataset.queries if qid in ranking}, {"path": str(self.path)}
