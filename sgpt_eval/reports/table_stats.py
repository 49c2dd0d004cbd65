"""What each of our cells in a BEIR table rests on: its 95% interval over queries, whether it can be
told apart from a baseline column, and how much of its top 10 the judgements see.

A cell is a mean of per-query NDCG@10 (CQADupStack's, the mean of its 12 forums' means; an
average row, the mean of its datasets' cells), so its interval resamples queries within each
dataset it is made of. A cell is tested against the baseline's on the same dataset by the paired
randomization test of `compare`, and the p-values of a column are Holm-corrected over the
datasets it is tested on. A report without per-query scores gets no interval and no test, and
the cell says so.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SgptEvalError
from .compare import randomization_pvalue
from .schema import JUDGED, OPTIMISTIC_NDCG
from .uncertainty import RESAMPLES, average_interval, holm

NO_PER_QUERY = "no per-query data"
DIFFERENT_QUERIES = "untested: other queries than the baseline's"
LEVEL = 0.05  # a Holm-corrected p at or above this: cannot be told apart from the baseline
PERMUTATIONS = 10_000

Samples = list[tuple[dict[str, float], float]]  # (query id -> score, weight in the cell's mean) per dataset


@dataclass(eq=False)
class CellStats:
    """Frames indexed by the table's row labels, with one column per system of ours: `low`/`high` the
    95% interval, `pvalue` the Holm-corrected p against `baseline` (NaN where untested), `note` why a
    cell has no interval or no test ("" where nothing is missing), `judged`/`optimistic` Judged@10 and the
    optimistic NDCG@10 bound (NaN where the report lacks them)."""

    low: pd.DataFrame
    high: pd.DataFrame
    pvalue: pd.DataFrame
    note: pd.DataFrame
    judged: pd.DataFrame
    optimistic: pd.DataFrame
    baseline: str | None
    tested: dict[str, int]  # system -> the datasets its p-values were corrected over


def cell_stats(reports: pd.DataFrame, systems: Sequence[str], rows: Mapping[str, Sequence[str]],
               judgements: Mapping[str, pd.DataFrame], averages: Collection[str] = (), baseline: str | None = None,
               resamples: int = RESAMPLES, permutations: int = PERMUTATIONS) -> CellStats:
    """`reports`: `tables.load_reports`'s rows with their `row` (the table row each belongs to);
    `rows`: each table row label -> the dataset rows whose mean it is (one for a dataset's own row);
    `averages`: the labels among them of averages over datasets, which are not tested;
    `judgements`: JUDGED and OPTIMISTIC_NDCG as datasets x systems, by dataset row."""
    if baseline is not None and baseline not in systems:
        raise SgptEvalError(f"--baseline {baseline}: not a column of ours in this table; choose from {', '.join(systems)}")
    frame = pd.DataFrame(np.nan, index=list(rows), columns=list(systems))
    low, high, pvalue = frame.copy(), frame.copy(), frame.copy()
    note = pd.DataFrame("", index=frame.index, columns=frame.columns)
    tested: dict[str, int] = {}
    for system in systems:
        raw: dict[str, float] = {}
        for label, names in rows.items():
            samples = _samples(reports, system, names)
            if samples is None:
                continue
            if not samples:
                note.loc[label, system] = NO_PER_QUERY
                continue
            interval = average_interval([list(scores.values()) for scores, _ in samples],
                                        [weight for _, weight in samples], resamples=resamples)
            low.loc[label, system], high.loc[label, system] = interval.low, interval.high
            if baseline is not None and system != baseline and label not in averages:
                reference = _samples(reports, baseline, names)
                if reference:
                    p = _paired_pvalue(samples, reference, permutations)
                    if p is None:
                        note.loc[label, system] = DIFFERENT_QUERIES
                    else:
                        raw[label] = p
        if raw:
            pvalue.loc[list(raw), system] = holm(list(raw.values()))
            tested[system] = len(raw)
    judged = {name: _by_label(table, rows, systems) for name, table in judgements.items()}
    return CellStats(low, high, pvalue, note, judged[JUDGED], judged[OPTIMISTIC_NDCG], baseline, tested)


def _samples(reports: pd.DataFrame, system: str, names: Sequence[str]) -> Samples | None:
    """The per-query scores a cell is made of, each with its weight; None where the cell has no value
    (a dataset not run, CQADupStack without all its forums), [] where a report lacks per-query scores."""
    samples: Samples = []
    for name in names:
        found = reports[(reports["row"] == name) & (reports["system"] == system)]
        if found.empty or (name == "cqadupstack" and len(found) < 12):
            return None
        scores = [per_query for per_query in found["per_query"] if per_query]
        if len(scores) < len(found):
            return []
        samples += [(per_query, 1 / len(found) / len(names)) for per_query in scores]
    return samples


def _paired_pvalue(samples: Samples, reference: Samples, permutations: int) -> float | None:
    """The paired randomization test of a cell against the baseline's cell of the same dataset; None
    where the two were run on different queries. Each query's difference is scaled so that their
    plain mean is the cell's weighted mean (a dataset's own row: unscaled, as `compare` tests it)."""
    a, b = [], []
    total = sum(len(scores) for scores, _ in samples)
    for (scores, weight), (other, _) in zip(samples, reference, strict=True):
        if scores.keys() != other.keys():
            return None
        scale = weight * total / len(scores)
        a += [scores[qid] * scale for qid in sorted(scores)]  # in `compare`'s order, so that one dataset's p is its
        b += [other[qid] * scale for qid in sorted(scores)]
    return randomization_pvalue(np.array(a), np.array(b), permutations)


def _by_label(table: pd.DataFrame, rows: Mapping[str, Sequence[str]], systems: Sequence[str]) -> pd.DataFrame:
    """Dataset rows x systems as the table's rows: each label the mean over its datasets (missing
    where one is)."""
    table = table.reindex(columns=list(systems))
    return pd.DataFrame({label: table.reindex(list(names)).mean(skipna=False) for label, names in rows.items()}).T
