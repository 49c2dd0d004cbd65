"""The SGPT paper's BEIR tables (datasets as rows, systems as columns) from our run reports: one of
every system, or the paper's bi-encoder and cross-encoder tables (PAPER_TABLES).

Published numbers stand beside each of our systems that has one, with the difference
(ours - published), so a reproduction gap is read off the table rather than worked out.
A missing cell stays missing (NaN, shown as "–"): an average never counts it as zero. Datasets
that are not BEIR's (a folder of one's own in BEIR layout) are rows after BEIR's, in no average.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd

from ..data.catalogue import BEIR_18, CE_11, DATASET_ORDER, default_split, expand, find
from ..data.catalogue import label as dataset_label
from ..errors import SgptEvalError
from ..models.presets import find_preset
from ..storage import atomic_open
from .schema import JUDGED, JUDGEMENT_METRICS, OPTIMISTIC_NDCG, find_reports, warn_version_differences
from .systems import labels
from .table_stats import LEVEL, NO_PER_QUERY, PERMUTATIONS, CellStats, cell_stats
from .uncertainty import RESAMPLES

METRIC = "NDCG@10"
_FORUMS = tuple(expand("cqadupstack"))
AVERAGE_18 = "average-18"  # the dataset name of published averages in the CSV
AVERAGE_18_LABEL = "Average (18 datasets, no MS MARCO)"
METHOD_ORDER = ("bm25", "dense", "rerank")
# The published number that measures the same system: the harness's BM25 is bm25s, and
# SGPT-CE re-ranks BM25's top 100 as our `rerank` method does.
REFERENCE_NAME = {"dense": "{model}", "bm25": "BM25 (bm25s)", "rerank": "SGPT-CE {model}"}
# The SGPT-CE presets by the names their published numbers have (GPT-J is "6.1B" in the SGPT paper).
PUBLISHED_CE = {"SGPT-CE-GPT-Neo-125M": "SGPT-CE GPT-Neo-125M", "SGPT-CE-GPT-Neo-1.3B": "SGPT-CE GPT-Neo-1.3B",
                "SGPT-CE-GPT-Neo-2.7B": "SGPT-CE GPT-Neo-2.7B", "SGPT-CE-GPT-J-6B": "SGPT-CE GPT-J-6.1B"}
AVERAGE_11_LABEL = "Average (11 datasets)"
MISSING = "–"
SAME = "≈"  # a cell that cannot be told apart from the baseline's
NOT_ANNOTATED = "n/a"  # a cell whose report has no judged@10
PUBLISHED_COLUMNS = ("dataset", "model", "ndcg@10", "source")
# The published numbers with their sources, shipped inside the package so that an installed copy has them.
PUBLISHED_CSV = resources.files(__package__) / "published" / "beir_ndcg10.csv"
TABLE_FORMATS = {"md": "md", "latex": "tex", "csv": "csv"}
REPORT_COLUMNS = ("dataset", "method", "model", "split", "system", "parameters", "max_queries", "evaluation_split", "path",
                  "versions", "per_query")


def load_reports(results_dir: Path) -> pd.DataFrame:
    """One row per BEIR report: dataset, method, model, split, system (its column label),
    parameters, max_queries (set for runs on the first N queries only), whether the split is the
    dataset's evaluation split, path, the package versions it was made with, its per-query NDCG@10
    (None where it has none) and every metric."""
    found = find_reports(results_dir, "beir")
    identities = [report.identity for _, report in found]
    rows = []
    for (path, report), system in zip(found, labels(identities)):
        identity = report.identity
        preset = find_preset(identity.model_name)
        rows.append({
            "dataset": identity.dataset, "method": identity.method, "model": identity.model_name,
            "split": identity.split, "system": system, "parameters": preset.parameters if preset else math.nan,
            "max_queries": identity.settings.get("max_queries") or math.nan,
            "evaluation_split": identity.split == default_split(identity.dataset),
            "path": str(path), "versions": report.versions, "per_query": report.per_query.get(METRIC) or None,
            **report.metrics,
        })
    frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=[*REPORT_COLUMNS, METRIC])
    for name in JUDGEMENT_METRICS:
        frame[name] = frame[name] if name in frame else math.nan
    _check_unique(frame)
    return frame


def _check_unique(reports: pd.DataFrame) -> None:
    """Two reports of one configuration on one dataset would make the table pick one silently."""
    key = ["dataset", "split", "system"]
    twice = reports[reports.duplicated(key, keep=False)]
    if not twice.empty:
        paths = " and ".join(twice.sort_values(key)["path"].head(2))
        raise SgptEvalError(f"{paths} report the same system on the same dataset and split, "
                            "in one configuration; move one out of the results folder")


def system_scores(reports: pd.DataFrame, metric: str = METRIC) -> pd.DataFrame:
    """Datasets x systems: BEIR's in the paper's order, the 12 CQADupStack forums folded into one
    row, then any other dataset by name.

    The CQADupStack row is the mean of the forums only when all 12 are there; otherwise it is missing.
    """
    evaluated = reports
    if evaluated.empty or metric not in evaluated:
        return pd.DataFrame(dtype=float)
    wide = evaluated.pivot(index="dataset", columns="system", values=metric).astype(float)
    if wide.index.isin(_FORUMS).any():
        wide.loc["cqadupstack"] = wide.reindex(list(_FORUMS)).mean(skipna=False)
    systems = sorted(wide.columns, key=lambda name: _system_order(evaluated, name))
    rows = [name for name in DATASET_ORDER if name in wide.index] + custom_datasets(wide.index)
    return wide.reindex(index=rows, columns=systems)


def table_row(dataset: str) -> str:
    """The row a dataset's scores go in: CQADupStack's for each of its forums, its own otherwise."""
    entry = find(dataset)
    return entry.family if entry else dataset


def custom_datasets(names: Iterable[str]) -> list[str]:
    """The rows of the datasets among `names` that are not BEIR's, by name."""
    return sorted({table_row(name) for name in names} - set(DATASET_ORDER))


def _system_order(reports: pd.DataFrame, system: str) -> tuple:
    """BM25 first, then bi-encoders, then re-rankers; smaller models first, as the paper's columns go."""
    row = reports[reports["system"] == system].iloc[0]
    method_rank = METHOD_ORDER.index(row["method"]) if row["method"] in METHOD_ORDER else len(METHOD_ORDER)
    size = row["parameters"] if not math.isnan(row["parameters"]) else math.inf
    return method_rank, row["method"], size, system


def read_published(path: Path | Traversable = PUBLISHED_CSV) -> tuple[pd.DataFrame, dict[str, str]]:
    """Published NDCG@10 as datasets x models, and each model's source(s) as one line."""
    try:
        with path.open(encoding="utf-8") as handle:
            table = pd.read_csv(handle, dtype={"dataset": str, "model": str, "source": str})
    except FileNotFoundError:
        remedy = ("the package's own published scores are missing: reinstall sgpt-eval" if path == PUBLISHED_CSV
                  else "check the path given to --published-csv")
        raise SgptEvalError(f"{path}: no such published-scores CSV; {remedy}") from None
    if tuple(table.columns) != PUBLISHED_COLUMNS:
        raise SgptEvalError(f"{path}: columns must be {', '.join(PUBLISHED_COLUMNS)}; fix the header")
    values = pd.to_numeric(table["ndcg@10"], errors="coerce")
    if values.isna().any() or table["source"].isna().any():
        line = int((values.isna() | table["source"].isna()).to_numpy().argmax()) + 2
        raise SgptEvalError(f"{path}:{line}: every row needs a number and a source; fix the row")
    if table.duplicated(["dataset", "model"]).any():
        line = int(table.duplicated(["dataset", "model"]).to_numpy().argmax()) + 2
        raise SgptEvalError(f"{path}:{line}: a second number for the same dataset and model; keep one")
    wide = table.assign(value=values).pivot(index="dataset", columns="model", values="value")
    return wide, {model: _sources(rows) for model, rows in table.groupby("model")}


def _sources(rows: pd.DataFrame) -> str:
    """One model's source, or each of its sources with the datasets it gives."""
    by_source = rows.groupby("source", sort=False)["dataset"].apply(list)
    if len(by_source) == 1:
        return by_source.index[0]
    return "; ".join(f"{source} [{', '.join(datasets)}]" for source, datasets in by_source.items())


@dataclass(frozen=True)
class PaperTable:
    """One of the SGPT paper's BEIR tables: which of our methods it shows, the published columns it
    always shows (run or not), the averages over named datasets it adds, and a note on the comparison."""

    title: str
    methods: tuple[str, ...]
    published: tuple[str, ...]
    averages: Mapping[str, tuple[str, ...]]
    note: str


_SGPT_BE = tuple(f"SGPT-{size}-weightedmean-msmarco-specb-bitfit" for size in ("125M", "1.3B", "2.7B", "5.8B"))
PAPER_TABLES = {
    "be": PaperTable("BEIR, bi-encoders (SGPT-BE)", ("bm25", "dense"), ("BM25 (Elasticsearch, BEIR paper)", *_SGPT_BE),
                     {}, "The paper's BM25 is Elasticsearch (BEIR paper); ours is bm25s."),
    "ce": PaperTable("BEIR, cross-encoders (SGPT-CE re-ranking the BM25 top 100)", ("bm25", "rerank"),
                     ("BM25 (Elasticsearch, SGPT re-run)", *PUBLISHED_CE.values()), {AVERAGE_11_LABEL: CE_11},
                     "The paper's re-rankers re-ranked SGPT's own Elasticsearch BM25 run; ours re-rank bm25s's top 100."),
}


def build_paper_table(results_dir: Path, name: str, published_csv: Path | None = None,
                      datasets: Sequence[str] = (), extra_published: Iterable[str] = (), baseline: str | None = None,
                      resamples: int = RESAMPLES) -> pd.DataFrame:
    """The paper's table `name` ("be" or "ce"; see PAPER_TABLES), built as `build_table` builds any."""
    paper = PAPER_TABLES[name]
    table = build_table(results_dir, published_csv, datasets, [*paper.published, *extra_published],
                        methods=paper.methods, averages_over=paper.averages, baseline=baseline, resamples=resamples)
    table.attrs["notes"] = [f"{paper.title}. {paper.note}", *table.attrs["notes"]]
    return table


def build_table(
    results_dir: Path,
    published_csv: Path | None = None,
    datasets: Sequence[str] = (),
    extra_published: Iterable[str] = (),
    methods: Sequence[str] = (),
    averages_over: Mapping[str, Sequence[str]] | None = None,
    baseline: str | None = None,
    resamples: int = RESAMPLES,
) -> pd.DataFrame:
    """The paper-layout table of NDCG@10: our systems, their published numbers and the differences.

    `published_csv` defaults to the numbers shipped with the package (PUBLISHED_CSV); `datasets`
    keeps only those rows (and averages over them); `extra_published` adds published-only
    columns such as the paper's BM25 or SGPT-5.8B; `methods` keeps only those methods' reports;
    `averages_over` adds a row per label, the mean over those datasets in each column that has all of
    them (missing otherwise); `baseline`, one of our columns, is tested against every other column of
    ours, dataset by dataset. Notes for the reader are in `table.attrs["notes"]`; each cell of ours
    has its interval, test and judged@10 in `table.attrs["cells"]` (a `CellStats`), with
    `resamples` bootstrap resamples.
    """
    results_dir = Path(results_dir)
    reports = load_reports(results_dir)
    if methods:
        reports = reports[reports["method"].isin(methods)]
    notes = [f"NDCG@10. Missing cells ({MISSING}) were not run or not published; no average counts them as zero."]
    if datasets:
        _check_datasets(datasets, reports, results_dir)
        reports = reports[reports["dataset"].map(table_row).isin(datasets)]
    custom = custom_datasets(reports["dataset"])
    if custom:
        notes.append(f"{', '.join(custom)}: not BEIR datasets; shown after them and left out of every average.")
    if reports.empty:
        notes.append(f"No run reports under {results_dir}{' for ' + ', '.join(datasets) if datasets else ''}.")
    warn_version_differences(reports["versions"], f"the reports in this table ({results_dir})")
    reports = reports.assign(row=reports["dataset"].map(table_row))
    ours = system_scores(reports)
    notes += _partial_cqadupstack(reports)
    notes += [f"{system}: first {max_queries:g} queries only; not set against published numbers."
              for system, max_queries in reports.groupby("system")["max_queries"].max().dropna().items()]

    published, sources = read_published(published_csv or PUBLISHED_CSV)
    columns, pairs = _columns(ours, reports, published, extra_published)
    notes += [f"{name} -- {sources[name.removeprefix('published: ')]}" for name in columns if name.startswith("published: ")]

    values = pd.DataFrame(columns, dtype=float)
    rows = [name for name in (*DATASET_ORDER, *custom) if name in values.index and (not datasets or name in datasets)]
    values = values.reindex(rows).dropna(how="all")
    subset = [name for name in BEIR_18 if name in ours.index and ours.loc[name].notna().all()]
    averages = {AVERAGE_18_LABEL: _average_18(values, published)}
    made_of = {dataset_label(name): [name] for name in values.index} | {AVERAGE_18_LABEL: BEIR_18}
    for label, names in (averages_over or {}).items():
        averages[label] = values.reindex(names).mean(skipna=False)
        made_of[label] = names
        notes.append(f"{label}: over {', '.join(map(dataset_label, names))}; shown only where a column has all of them.")
    if subset and len(subset) < len(BEIR_18):
        label = f"Average ({len(subset)} of 18 datasets run)"
        averages[label] = values.reindex(subset).mean(skipna=False)
        made_of[label] = subset
        notes.append(f"{label}: over {', '.join(map(dataset_label, subset))} -- the datasets every system here was run on.")
    table = pd.concat([values.rename(index=dataset_label), pd.DataFrame(averages).T]).dropna(how="all")
    for system, reference, difference in pairs:
        table.insert(table.columns.get_loc(reference) + 1, difference, table[system] - table[reference])
    table.index.name = "dataset"
    judgements = {name: system_scores(reports, name) for name in JUDGEMENT_METRICS}
    cells = cell_stats(reports, list(ours.columns), {label: made_of[label] for label in table.index}, judgements,
                       averages, baseline, resamples)
    table.attrs["notes"] = notes + _stats_notes(cells, resamples)
    table.attrs["cells"] = cells
    return table


def _stats_notes(cells: CellStats, resamples: int) -> list[str]:
    """How to read the intervals, the baseline marks and the judged@10 table."""
    notes = [f"[low, high]: 95% percentile bootstrap interval of a cell of ours ({resamples:,} resamples of its queries, "
             "seed 0; an average's resamples queries within each of its datasets). "
             f"({NO_PER_QUERY}): the report holds no per-query scores, so the cell has no interval and no test."]
    if cells.baseline is not None:
        corrected = ", ".join(f"{system} over {count}" for system, count in cells.tested.items()) or "none tested"
        notes.append(f"Baseline: {cells.baseline}. {SAME} marks a cell that cannot be told apart from the baseline's on "
                     f"that dataset (paired randomization test, {PERMUTATIONS:,} sign flips, Holm-corrected over the "
                     f"datasets of its column, p >= {LEVEL}); an unmarked tested cell differs. Datasets per column: "
                     f"{corrected}.")
    notes.append("Judged@10: share of the top 10 (self-hits dropped) that the qrels judge; NDCG@10 bound: NDCG@10 with "
                 "every unjudged document of the top 10 counted relevant (grade 1). Where the bound is far above "
                 "NDCG@10 the judgements cannot settle the cell, and a comparison within that gap could flip. "
                 f"{NOT_ANNOTATED}: the report predates judged@10 (`sgpt-eval annotate` adds it).")
    return notes


def _check_datasets(datasets: Sequence[str], reports: pd.DataFrame, results_dir: Path) -> None:
    """A --dataset that is neither BEIR's nor one with reports here is a typo: list what there is."""
    found = sorted({table_row(name) for name in reports["dataset"]})
    unknown = sorted(set(datasets) - set(DATASET_ORDER) - set(found))
    if unknown:
        raise SgptEvalError(
            f"--dataset {', '.join(unknown)}: not a BEIR dataset, and no report under {results_dir} names it; "
            f"datasets with reports: {', '.join(found) or 'none'}; BEIR's: {', '.join(DATASET_ORDER)}")


def _columns(
    ours: pd.DataFrame, reports: pd.DataFrame, published: pd.DataFrame, extra_published: Iterable[str],
) -> tuple[dict[str, pd.Series], list[tuple[str, str, str]]]:
    """Each of our systems followed by its published number; then any published-only columns asked for.

    A run on the first N queries only, or on another split, gets no published number: the two
    measure different query sets.

    Also returns the (ours, published, difference) column names whose difference the table shows.
    """
    columns: dict[str, pd.Series] = {}
    pairs = []
    systems = reports.drop_duplicates("system").set_index("system")
    for system in ours.columns:
        columns[system] = ours[system]
        method, model, max_queries, evaluation_split = systems.loc[
            system, ["method", "model", "max_queries", "evaluation_split"]]
        reference = PUBLISHED_CE.get(model) if method == "rerank" else None
        reference = reference or REFERENCE_NAME.get(method, "").format(model=model)
        if reference in published and math.isnan(max_queries) and evaluation_split:
            columns[f"published: {reference}"] = published[reference]
            pairs.append((system, f"published: {reference}", f"Δ {system}"))
    for name in extra_published:
        if name not in published:
            raise SgptEvalError(f"--published {name}: not in the published CSV; choose from {', '.join(published.columns)}")
        columns.setdefault(f"published: {name}", published[name])
    return columns, pairs


def _average_18(values: pd.DataFrame, published: pd.DataFrame) -> pd.Series:
    """The BEIR average where all 18 are present; a published average from the CSV otherwise, if one exists."""
    average = values.reindex(BEIR_18).mean(skipna=False)
    if AVERAGE_18 in published.index:
        stated = published.loc[AVERAGE_18].rename(lambda model: f"published: {model}")
        average = average.fillna(stated.reindex(average.index))
    return average


def _partial_cqadupstack(reports: pd.DataFrame) -> list[str]:
    forums = reports[reports["dataset"].str.startswith("cqadupstack/")]
    counts = forums.groupby("system")["dataset"].nunique()
    return [f"CQADupStack, {system}: {count} of 12 forums run; missing until all 12 are."
            for system, count in counts.items() if count < len(_FORUMS)]


def render(table: pd.DataFrame, fmt: str) -> str:
    """The table as Markdown ("md"), LaTeX ("latex", booktabs) or CSV ("csv", missing cells empty), each
    with what `table.attrs["cells"]` holds: Markdown and LaTeX give our cells their intervals and
    baseline marks and add a second table of Judged@10 and the NDCG@10 bound; the CSV has them as
    columns beside each of ours."""
    cells: CellStats = table.attrs["cells"]
    if fmt == "csv":
        return _with_stats(table, cells).to_csv(float_format="%.5f", na_rep="")
    if fmt not in TABLE_FORMATS:
        raise SgptEvalError(f"--format {fmt}: choose from {', '.join(TABLE_FORMATS)}")
    write = _markdown if fmt == "md" else _latex
    main = [[_cell(column, value, cells, label) for column, value in row.items()] for label, row in table.iterrows()]
    judged = _judged_table(table, cells)
    sections = [write(table.index.name, list(table.columns), list(table.index), main)]
    if not judged.empty:
        sections.append(write(f"{table.index.name} (Judged@10 / NDCG@10 bound)", list(judged.columns),
                              list(judged.index), judged.values.tolist()))
    notes = table.attrs.get("notes", [])
    return "\n".join(sections) + "\n" + "\n".join(f"- {note}" if fmt == "md" else f"% {note}" for note in notes) + "\n"


def _cell(column: str, value: float, cells: CellStats, label: str) -> str:
    if pd.isna(value):
        return MISSING
    if column.startswith("Δ "):
        return f"{value:+.4f}"
    text = f"{value:.4f}"
    if column not in cells.low:
        return text
    if not pd.isna(cells.low.loc[label, column]):
        text += f" [{cells.low.loc[label, column]:.3f}, {cells.high.loc[label, column]:.3f}]"
    if cells.pvalue.loc[label, column] >= LEVEL:
        text += f" {SAME}"
    return text + (f" ({cells.note.loc[label, column]})" if cells.note.loc[label, column] else "")


def _judged_table(table: pd.DataFrame, cells: CellStats) -> pd.DataFrame:
    """Judged@10 and the NDCG@10 bound of each of our cells with a value, as text, two columns per system."""
    shown = table[list(cells.judged.columns)]
    columns = {}
    for system in shown.columns:
        for name, values in ((JUDGED, cells.judged), ("NDCG@10 bound", cells.optimistic)):
            columns[f"{system} {name}"] = [MISSING if pd.isna(score) else NOT_ANNOTATED if pd.isna(value) else f"{value:.4f}"
                                          for score, value in zip(shown[system], values[system].reindex(shown.index))]
    return pd.DataFrame(columns, index=shown.index).loc[shown.notna().any(axis=1)]


def _with_stats(table: pd.DataFrame, cells: CellStats) -> pd.DataFrame:
    """The table with, after each column of ours, its interval, its Holm-corrected p against the baseline
    (with one), Judged@10, the NDCG@10 bound, and the note that says why a cell has no interval."""
    columns = {}
    for column in table.columns:
        columns[column] = table[column]
        if column in cells.low:
            columns[f"{column} 95% low"] = cells.low[column]
            columns[f"{column} 95% high"] = cells.high[column]
            if cells.baseline not in (None, column):
                columns[f"{column} p vs {cells.baseline} (Holm)"] = cells.pvalue[column]
            columns[f"{column} {JUDGED}"] = cells.judged[column]
            columns[f"{column} NDCG@10 bound"] = cells.optimistic[column]
            columns[f"{column} note"] = cells.note[column].where(table[column].notna(), "")
    return pd.DataFrame(columns, index=table.index)


def _markdown(corner: str, columns: list[str], labels: list[str], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join([corner, *columns]) + " |", "|" + "---|" + "---:|" * len(columns)]
    lines += ["| " + " | ".join([str(label), *row]) + " |" for label, row in zip(labels, cells)]
    return "\n".join(lines) + "\n"


def _latex(corner: str, columns: list[str], labels: list[str], cells: list[list[str]]) -> str:
    header = " & ".join(_tex(str(name)) for name in [corner, *columns])
    lines = [r"\begin{tabular}{l" + "r" * len(columns) + "}", r"\toprule", header + r" \\", r"\midrule"]
    first_average = next((i for i, label in enumerate(labels) if str(label).startswith("Average")), None)
    for i, (label, row) in enumerate(zip(labels, cells)):
        if i == first_average and i > 0:
            lines.append(r"\midrule")
        lines.append(" & ".join(_tex(text) for text in [str(label), *row]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "$": r"\$", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "Δ": r"$\Delta$", MISSING: "--",
        SAME: r"$\approx$"}


def _tex(text: str) -> str:
    return re.sub("|".join(map(re.escape, _TEX)), lambda match: _TEX[match.group()], text)


def write_tables(table: pd.DataFrame, output_dir: Path, stem: str = "beir_ndcg10") -> list[Path]:
    """The table in every format under `output_dir`, each file written atomically."""
    paths = []
    for fmt, suffix in TABLE_FORMATS.items():
        path = Path(output_dir) / f"{stem}.{suffix}"
        with atomic_open(path) as handle:
            handle.write(render(table, fmt))
        paths.append(path)
    return paths
