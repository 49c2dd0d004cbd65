"""The site's content, built from a results folder as plain JSON-able values: the paper's three
tables (from `reports.tables` and `reports.useb_table`, so the numbers are theirs), the regression
status (`reports.regress`), every run behind a cell, and the paired comparisons of the runs of
each dataset. Rendering is `render`'s; nothing here formats for a page.

Each run carries its 95% bootstrap interval of NDCG@10 (`reports.uncertainty`, with the seed and
resamples the tables use, so the two agree) and the Judged@10 and optimistic NDCG@10 its report
holds; each of our cells in the BEIR tables carries `reports.table_stats`' interval, judged@10 and
its Holm-corrected test against BASELINE, as `sgpt-eval table --baseline BM25` computes them; each
comparison carries `compare`'s statistics and `reports.drift`'s diagnosis. Query and document texts
enter only when asked for (`with_text`) and the dataset is on disk: the datasets' licences forbid
redistributing them.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .. import __version__
from ..data import beir
from ..data.catalogue import find
from ..data.catalogue import label as dataset_label
from ..errors import SgptEvalError
from ..models.presets import find_preset
from ..reports.compare import compare_scores
from ..reports.drift import diff_reports
from ..reports.regress import check, pairing_key, read_baseline
from ..reports.schema import JUDGED, OPTIMISTIC_NDCG, Identity, Report, find_reports
from ..reports.systems import labels
from ..reports.table_stats import LEVEL, NO_PER_QUERY, CellStats
from ..reports.tables import METRIC, PAPER_TABLES, build_paper_table, load_reports
from ..reports.uncertainty import RESAMPLES, SEED, Interval, bootstrap_interval
from ..reports.useb_table import DATASETS as USEB_DATASETS
from ..reports.useb_table import NO_INTERVAL, TableRow, interval_notes, main_interval, measured_rows, published_rows
from ..reports.useb_table import TITLES as USEB_TITLES
from ..retrieval.ranking import Ranking, read_ranking, top_k
from ..storage import sha256_file
from .reproduce import command_line

TOP = 10  # documents shown per query, as NDCG@10 sees them
TEXT_CHARACTERS = 600  # of a document's text, with --with-text
PERMUTATIONS = 10_000  # of each comparison's randomization test, as `compare` runs it
# The column the BEIR tables' other columns of ours are tested against, where a table has it: the
# lexical baseline every dense and re-ranking system of the paper is read against.
BASELINE = "BM25"


def build_site_data(results_dir: Path, baselines_dir: Path | None = None, data_dir: Path | None = None,
                    with_text: bool = False) -> dict:
    """Everything the site shows, from the reports under `results_dir`; `data_dir` (a BEIR folder)
    gives the judgements that mark each top-10 document, and with `with_text` the texts too."""
    results_dir = Path(results_dir)
    found = find_reports(results_dir)
    if not found:
        raise SgptEvalError(f"{results_dir}: no run reports; run an evaluation first or pass --results-dir")
    rankings = functools.lru_cache(maxsize=None)(read_ranking)  # each ranking read once, for its run and its pairs
    runs = _runs(found, results_dir, data_dir, with_text, rankings)
    baselines_dir = baselines_dir or results_dir / "baselines"
    regression = regression_status(results_dir, baselines_dir, found)
    for entry in regression["baselines"]:
        if entry["run"] in runs:
            runs[entry["run"]]["regression"] = entry["status"]
    beir_runs = {(run["dataset"], run["system"]): run_id for run_id, run in runs.items() if run["benchmark"] == "beir"}
    tables = [beir_table(results_dir, name, beir_runs) for name in PAPER_TABLES]
    tables.append(useb_table(results_dir))
    return {"generator": f"sgpt-eval {__version__}", "metric": METRIC, "tables": tables, "runs": runs,
            "comparisons": comparisons(runs, results_dir, rankings), "regression": regression,
            "texts_included": with_text and any(run["texts"] for run in runs.values())}


def _runs(found: list[tuple[Path, Report]], results_dir: Path, data_dir: Path | None, with_text: bool,
          rankings: Callable[[Path], Ranking] = read_ranking) -> dict:
    """Each run by its identity digest; systems named as the tables name them (per benchmark)."""
    runs = {}
    for benchmark in ("beir", "useb"):
        mine = [(path, report) for path, report in found if report.identity.benchmark == benchmark]
        names = labels([report.identity for _, report in mine])
        for (path, report), system in zip(mine, names):
            runs[report.identity.digest()] = run_entry(path, report, system, results_dir, data_dir, with_text, rankings)
    return runs


def run_entry(path: Path, report: Report, system: str, results_dir: Path, data_dir: Path | None,
              with_text: bool, rankings: Callable[[Path], Ranking] = read_ranking) -> dict:
    """One run as the drill-down shows it."""
    identity = report.identity
    try:
        command, command_note = command_line(identity), ""
    except SgptEvalError as exc:
        command, command_note = None, str(exc)
    scores = report.per_query.get(METRIC, {})
    top, top_note, texts = top_documents(path, report, data_dir, with_text, rankings)
    return {
        "id": identity.digest(), "benchmark": identity.benchmark, "dataset": identity.dataset,
        "dataset_label": dataset_label(identity.dataset) if identity.benchmark == "beir"
        else USEB_TITLES.get(identity.dataset, identity.dataset),
        "method": identity.method, "system": system, "model": identity.model_name if identity.model else None,
        "path": path.relative_to(results_dir).as_posix(), "identity": identity.as_dict(),
        "configuration": identity.configuration(), "versions": report.versions, "hardware": report.hardware,
        "details": report.details, "timings_s": report.timings_s, "created": report.created,
        "harness_git": report.harness_git, "recorded_command": report.command,
        "command": command, "command_note": command_note,
        "main_metric": report.main_metric, "main_score": report.main_score, "metrics": report.metrics,
        "per_query": {str(qid): score for qid, score in scores.items()},
        "top": top, "top_note": top_note, "texts": texts,
        "parameters_m": parameters(identity), "throughput": throughput(report),
        "statistics": statistics(report), "regression": None,
    }


def statistics(report: Report) -> dict:
    """The run's 95% percentile bootstrap interval of its main metric (BEIR: NDCG@10 over its queries;
    USEB: as the USEB table makes it), with the seed and resamples of the tables, so that a cell and
    its run show one interval, and `interval_note` saying why there is none; Judged@10 and the
    optimistic NDCG@10 bound as its report holds them (None in a report that predates them)."""
    if report.identity.benchmark == "useb":
        interval, note = main_interval(report), NO_INTERVAL
        over = "queries" if report.per_query else "pairs"
    else:
        scores = report.per_query.get(METRIC)
        interval = bootstrap_interval(list(scores.values()), RESAMPLES, seed=SEED) if scores else None
        note, over = NO_PER_QUERY, "queries"
    return {"interval_95": [interval.low, interval.high] if interval else None, "interval_note": "" if interval else note,
            "interval_over": over, "resamples": RESAMPLES, "seed": SEED,
            "judged_at_10": report.metrics.get(JUDGED), "optimistic_ndcg_at_10": report.metrics.get(OPTIMISTIC_NDCG)}


def parameters(identity: Identity) -> float | None:
    """Millions of parameters, from the model's preset; None for BM25 and models without one."""
    if identity.model is None:
        return None
    preset = find_preset(identity.model_name)
    return preset.parameters if preset else None


def throughput(report: Report) -> dict | None:
    """Items per second of the run's main stage, from its timings: documents encoded (dense), pairs
    scored (rerank) or documents indexed (BM25). None where the stage read a cache (its time is not
    the work's) or the corpus size is unknown."""
    identity, timings, details = report.identity, report.timings_s, report.details
    entry = find(identity.dataset)
    documents = entry.stats.documents if entry and entry.stats else None
    if identity.benchmark != "beir":
        return None
    if identity.method == "dense" and documents and timings.get("encode_corpus"):
        if details.get("embedding_cache", {}).get("corpus_shards_reused"):
            return None
        return {"value": documents / timings["encode_corpus"], "unit": "documents encoded / s",
                "device": details.get("device")}
    if identity.method == "rerank" and details.get("pairs") and timings.get("rerank"):
        if details.get("pairs_from_score_cache"):
            return None
        return {"value": details["pairs"] / timings["rerank"], "unit": "pairs scored / s", "device": details.get("device")}
    if identity.method == "bm25" and documents and timings.get("bm25_index") and not details.get("index_from_cache"):
        return {"value": documents / timings["bm25_index"], "unit": "documents indexed / s", "device": "cpu"}
    return None


def top_documents(path: Path, report: Report, data_dir: Path | None, with_text: bool,
                  rankings: Callable[[Path], Ranking] = read_ranking) -> tuple[dict | None, str, dict | None]:
    """Each query's top ten document ids from the run's ranking, each with its judgement (the grade;
    None: unjudged) when the dataset's judgements are on disk and are the run's (same sha256); the
    texts of those queries and documents with `with_text`. Also a note on what is missing and why."""
    identity = report.identity
    if identity.benchmark != "beir" or not report.ranking_file:
        return None, "no ranking beside this report", None
    ranking_path = path.parent / report.ranking_file
    if not ranking_path.is_file():
        return None, f"its ranking {report.ranking_file} is not beside the report", None
    ranking = top_k(rankings(ranking_path), TOP)
    ranked = {qid: list(ranking.get(qid, {})) for qid in report.per_query.get(METRIC, ranking)}
    files = _dataset_files(identity, data_dir)
    if isinstance(files, str):
        return {qid: [[doc, None] for doc in docs] for qid, docs in ranked.items()}, files, None
    qrels = beir.read_qrels(files.qrels)
    top = {qid: [[doc, qrels.get(qid, {}).get(doc)] for doc in docs] for qid, docs in ranked.items()}
    return top, "", _texts(files, ranked) if with_text else None


def _dataset_files(identity: Identity, data_dir: Path | None) -> beir.DatasetFiles | str:
    """The run's dataset files when they are on disk with the run's judgements; else why not."""
    if data_dir is None:
        return "judgements not read (build the site with --data-dir to mark relevant and unjudged documents)"
    folder = Path(data_dir) / identity.dataset
    if not (folder / "qrels" / f"{identity.split}.tsv").is_file():
        return f"no {identity.split} judgements of {identity.dataset} under --data-dir; documents are not marked"
    files = beir.locate(identity.dataset, Path(data_dir), identity.split)
    if sha256_file(files.qrels) != identity.data_files_sha256.get("qrels"):
        return (f"the {identity.split} judgements of {identity.dataset} under --data-dir are not those this run was "
                "scored with (another sha256); documents are not marked")
    return files


def _texts(files: beir.DatasetFiles, ranked: dict[str, list[str]]) -> dict:
    """The queries' texts and the shown documents' titles and texts (cut to TEXT_CHARACTERS)."""
    queries = beir.read_queries(files.queries)
    documents = beir.read_corpus(files.corpus).subset({doc for docs in ranked.values() for doc in docs})
    return {"queries": {qid: queries.get(qid, "") for qid in ranked},
            "documents": {doc: {"title": fields.get("title", ""), "text": fields.get("text", "")[:TEXT_CHARACTERS]}
                          for doc, fields in documents.items()}}


def beir_table(results_dir: Path, name: str, runs: dict[tuple[str, str], str]) -> dict:
    """One of the paper's BEIR tables as `reports.tables` builds it, tested against BASELINE where the
    table has that column; each cell of ours names its run and carries its `cell_statistics`."""
    reports = load_reports(results_dir)
    systems = set(reports["system"])
    in_table = set(reports.loc[reports["method"].isin(PAPER_TABLES[name].methods), "system"])
    baseline = BASELINE if BASELINE in in_table else None
    table = build_paper_table(results_dir, name, baseline=baseline)
    stats: CellStats = table.attrs["cells"]
    labels_to_dataset = {dataset_label(dataset): dataset for dataset in reports["dataset"]}
    columns = [{"name": column, "kind": _column_kind(column, systems)} for column in table.columns]
    rows = []
    for row_label, values in table.iterrows():
        dataset = labels_to_dataset.get(row_label)
        cells = []
        for column, value in values.items():
            system = column.removeprefix("Δ ") if column.startswith("Δ ") else column
            run = runs.get((dataset, system)) if dataset and system in systems else None
            cell = {"value": None if pd.isna(value) else float(value), "run": run}
            if column in stats.low and not pd.isna(value):
                cell["stats"] = cell_statistics(stats, str(row_label), column)
            cells.append(cell)
        rows.append({"label": str(row_label), "average": dataset is None and str(row_label).startswith("Average"),
                     "cells": cells})
    return {"id": name, "title": PAPER_TABLES[name].title, "metric": METRIC, "scale": 1, "columns": columns,
            "rows": rows, "baseline": baseline, "level": LEVEL,
            "notes": [*table.attrs.get("notes", []), *_site_notes(baseline)]}


def _site_notes(baseline: str | None) -> list[str]:
    """How the page marks the tests that the table's notes describe."""
    if baseline is None:
        return [f"No {BASELINE} column in this table: no cell is tested."]
    return [f"On this page the baseline is {baseline} (the site's default): ≈ {baseline} marks a cell that cannot be "
            f"told apart from it, ≠ {baseline} one that differs; hover a mark for its Holm-corrected p. Under each "
            "cell of ours: its 95% interval, then judged@10 and the NDCG@10 bound."]


def cell_statistics(stats: CellStats, label: str, system: str) -> dict:
    """One cell of ours as `table_stats` computed it: its 95% interval, its Holm-corrected p against the
    baseline with `same` (cannot be told apart at LEVEL; None where untested), Judged@10, the
    optimistic bound, and the note saying what is missing and why."""
    def number(frame: pd.DataFrame) -> float | None:
        value = frame.loc[label, system]
        return None if pd.isna(value) else float(value)

    low, high = number(stats.low), number(stats.high)
    return _cell_stats(None if low is None else Interval(low, high), str(stats.note.loc[label, system]),
                       number(stats.pvalue), number(stats.judged), number(stats.optimistic))


def _cell_stats(interval: Interval | None, note: str, pvalue: float | None = None, judged: float | None = None,
                optimistic: float | None = None) -> dict:
    """What the page shows under a cell of ours (BEIR or USEB), in the one shape it reads."""
    return {"interval_95": None if interval is None else [interval.low, interval.high], "pvalue": pvalue,
            "same": None if pvalue is None else pvalue >= LEVEL, "judged_at_10": judged,
            "optimistic_ndcg_at_10": optimistic, "note": note}


def _column_kind(column: str, systems: set[str]) -> str:
    if column.startswith("Δ "):
        return "delta"
    return "ours" if column in systems else "published"


def useb_table(results_dir: Path) -> dict:
    """The paper's USEB table (scores x 100), published rows then ours; measured cells name their run."""
    columns = [{"name": USEB_TITLES[name], "kind": "score"} for name in USEB_DATASETS] + [{"name": "avg", "kind": "score"}]
    rows = []
    measured = measured_rows(results_dir)
    for row in [*published_rows(), *measured]:
        cells = [_useb_cell(row, name) for name in USEB_DATASETS]
        rows.append({"label": row.model, "source": row.source, "average": False,
                     "cells": cells + [{"value": row.average, "run": None}]})
    return {"id": "useb", "title": "USEB (main metric x 100)", "metric": "main metric x 100", "scale": 100,
            "columns": columns, "rows": rows,
            "notes": [note.removeprefix("- ") for note in interval_notes(measured)]}


def _useb_cell(row: TableRow, dataset: str) -> dict:
    """A USEB cell (x 100): a measured one names its run and carries its interval, or why it has none."""
    cell = {"value": row.scores[dataset], "run": row.runs.get(dataset)}
    if cell["run"]:
        interval = row.intervals.get(dataset)
        cell["stats"] = _cell_stats(interval, "" if interval else "no interval")
    return cell


def regression_status(results_dir: Path, baselines_dir: Path, found: list[tuple[Path, Report]]) -> dict:
    """Every baseline, met or not, with the run it pins (`reports.regress.check` decides); no folder
    is named in full, so that the site does not depend on where it was built."""
    baselines_dir = Path(baselines_dir)
    files = sorted(baselines_dir.glob("*.json"))
    if not files:
        return {"baselines": [], "note": f"no baselines in {baselines_dir.name}/"}
    failures = {failure.baseline.name: failure.message for failure in check(results_dir, baselines_dir)}
    by_key = {pairing_key(report.identity): report for _, report in found}
    entries = []
    for file in files:
        baseline = read_baseline(file)
        report = by_key.get(pairing_key(baseline["identity"]))
        entries.append({
            "baseline": file.name, "run": report.identity.digest() if report else None,
            "metric": baseline["metric"], "expected": baseline["value"], "tolerance": baseline["tolerance"],
            "measured": report.metrics.get(baseline["metric"]) if report else None,
            "status": "not met" if file.name in failures else "met", "message": failures.get(file.name, ""),
        })
    return {"baselines": entries, "note": ""}


def comparisons(runs: dict, results_dir: Path, rankings: Callable[[Path], Ranking] = read_ranking) -> dict:
    """Every pair of runs on one BEIR dataset and split, as "A|B" (A before B in digest order; the page
    reads B|A as its mirror): `compare`'s paired statistics over the queries both have (with the
    paired bootstrap interval of A - B), and in `drift` `reports.drift`'s diagnosis of the two."""
    paired = {}
    groups = itertools.groupby(sorted((run["dataset"], run["identity"]["split"], run_id) for run_id, run in runs.items()
                                      if run["benchmark"] == "beir" and run["per_query"]), key=lambda item: item[:2])
    for _, members in groups:
        for a, b in itertools.combinations([run_id for *_, run_id in members], 2):
            result = compare_scores(runs[a]["per_query"], runs[b]["per_query"], dataset=runs[a]["dataset"],
                                    name_a=runs[a]["system"], name_b=runs[b]["system"], permutations=PERMUTATIONS,
                                    intersect=True)
            values = {key: (None if isinstance(value, float) and math.isnan(value) else value)
                      for key, value in asdict(result).items()}
            paired[f"{a}|{b}"] = {**values, "a": a, "b": b, "drift": drift(runs[a], runs[b], results_dir, rankings)}
    return paired


def drift(run_a: dict, run_b: dict, results_dir: Path, rankings: Callable[[Path], Ranking] = read_ranking) -> dict:
    """`sgpt-eval diff`'s diagnosis of two runs as plain values, the reports named by their paths
    under the results folder (so that the site does not depend on where it was built); only a `note`
    where it cannot be made."""
    try:
        diagnosis = diff_reports(results_dir / run_a["path"], results_dir / run_b["path"], read=rankings)
    except SgptEvalError as exc:  # one ranking is not beside its report: the page says so, the site is built
        return {"note": str(exc)}
    return {**diagnosis.as_dict(), "path_a": run_a["path"], "path_b": run_b["path"], "note": ""}
