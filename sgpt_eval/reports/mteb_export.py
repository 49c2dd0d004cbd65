"""BEIR reports as MTEB task results, in the layout of MTEB's results repository.

`<output>/results/<organization>__<model>/<revision>/<Task>.json` beside a `model_meta.json`,
which `mteb.ResultCache(<output>).load_results()` reads. Each BEIR dataset maps to its MTEB
retrieval task (scifact -> SciFact, msmarco -> MSMARCO on dev, a CQADupStack forum -> its
CQADupstack...Retrieval task); our metrics take MTEB's names (NDCG@10 -> ndcg_at_10, the main
score). Re-ranking runs are MTEB experiments (`experiments/method_rerank/`), and where several
configurations of one model meet on one task, each goes to the experiment named by the settings
that tell them apart. Reports over a query subset are not exported: MTEB's scores cover every query.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..data.catalogue import find
from ..errors import SgptEvalError
from ..storage import write_json
from .schema import Report, find_reports
from .systems import _differing

log = logging.getLogger(__name__)

# Our metric names (before "@k") -> MTEB's (before "_at_k").
_METRIC_NAMES = {"NDCG": "ndcg", "MAP": "map", "Recall": "recall", "P": "precision", "MRR": "mrr"}
MAIN_SCORE = "ndcg_at_10"
HF_SUBSET = "default"


@dataclass
class _Export:
    """One report on its way to MTEB: where it goes is known once all reports are seen."""

    path: Path
    report: Report
    task: str
    name: str
    revision: str
    experiment: dict = field(default_factory=dict)

    @property
    def group(self) -> tuple[str, str, str, str]:
        return self.name, self.revision, self.task, self.report.identity.method


def mteb_scores(metrics: dict[str, float]) -> dict[str, float]:
    """Our metrics under MTEB's names, NDCG@10 as the main score."""
    scores = {}
    for metric, value in metrics.items():
        name, _, cutoff = metric.partition("@")
        if name in _METRIC_NAMES and cutoff:
            scores[f"{_METRIC_NAMES[name]}_at_{cutoff}"] = value
    return {"main_score": scores[MAIN_SCORE], **scores}


def export_mteb(results_dir: Path, output_dir: Path) -> list[Path]:
    """Write every exportable BEIR report under `results_dir` as an MTEB task result; returns the
    files written. Every file is planned, and every clash found, before the first is written."""
    reports = find_reports(results_dir, "beir")
    if not reports:
        raise SgptEvalError(f"{results_dir}: no BEIR reports to export; run an evaluation first or pass --results-dir")
    exports = []
    for path, report in reports:
        reason = _not_exported(report)
        if reason:
            log.warning("not exported: %s: %s", path, reason)
            continue
        exports.append(_prepare(path, report))
    if not exports:
        raise SgptEvalError(f"{results_dir}: none of its {len(reports)} BEIR report(s) can be exported (the "
                            "'not exported' lines above say why); nothing was written")
    _name_experiments(exports)
    files = _files(exports, output_dir)
    for target, payload in files.items():
        write_json(target, payload)
    return [target for target in files if target.name != "model_meta.json"]


def _task(dataset: str) -> str | None:
    """The MTEB task of a BEIR dataset; None for one MTEB does not have."""
    entry = find(dataset)
    return entry.mteb_task if entry else None


def _not_exported(report: Report) -> str | None:
    identity = report.identity
    if identity.settings.get("max_queries"):
        return (f"it covers the first {identity.settings['max_queries']} queries only, "
                "and MTEB's scores cover every query; run it without --max-queries to export it")
    if _task(identity.dataset) is None:
        return f"MTEB has no task for dataset '{identity.dataset}'"
    return None


def _prepare(path: Path, report: Report) -> _Export:
    from ..mteb import BM25_NAME, mteb_model_name

    identity = report.identity
    model = identity.model
    name = BM25_NAME if model is None else mteb_model_name(model["model"])
    revision = report.versions.get("bm25s", "unknown") if model is None else model["revision"]
    experiment = {"method": identity.method} if identity.method == "rerank" else {}
    return _Export(path, report, _task(identity.dataset), name, revision, experiment)


def _name_experiments(exports: list[_Export]) -> None:
    """Where one model's method meets a task in several configurations, each gets an MTEB
    experiment named by the settings that differ (left out where a configuration lacks one)."""
    groups: dict[tuple, list[_Export]] = {}
    for export in exports:
        groups.setdefault(export.group, []).append(export)
    for group in groups.values():
        if len(group) < 2:
            continue
        configurations = [{**export.report.identity.configuration(), "split": export.report.identity.split}
                          for export in group]
        differing = _differing(configurations)
        for export, configuration in zip(group, configurations):
            export.experiment.update({key: configuration[key] for key in differing
                                      if configuration.get(key) is not None})


def _files(exports: list[_Export], output_dir: Path) -> dict[Path, dict]:
    """Target path -> JSON payload: each task result, and each folder's model_meta.json."""
    import mteb

    from ..mteb import model_meta

    metas, sources = [], {}
    for export in exports:
        meta = model_meta(export.name, export.revision, experiment_kwargs=export.experiment,
                          model_type="cross-encoder" if export.report.identity.method == "rerank" else "dense")
        where = (meta.name, meta.revision, meta.experiment_name, export.task)
        if where in sources:
            raise SgptEvalError(f"{sources[where]} and {export.path} export as one MTEB result (same model, revision, "
                                "task and settings over different data files); remove one of them from the results folder")
        sources[where] = export.path
        metas.append(meta)
    cache = mteb.ResultCache(output_dir)
    files: dict[Path, dict] = {}
    for export, meta in zip(exports, metas):
        target = cache.get_task_result_path(export.task, meta)
        files[target] = _task_result(export, mteb.get_task(export.task))
        files[target.parent / "model_meta.json"] = json.loads(json.dumps(meta.to_dict(), default=str))  # as MTEB writes it
    return files


def _task_result(export: _Export, task) -> dict:
    """The task result as MTEB writes it (`TaskResult.to_disk`): scores per split, the time the
    run took and when it was made."""
    from mteb import TaskResult

    report = export.report
    result = TaskResult.from_task_results(
        task, {report.identity.split: {HF_SUBSET: mteb_scores(report.metrics)}},
        evaluation_time=round(sum(report.timings_s.values()), 3),
        date=dt.datetime.fromisoformat(report.created) if report.created else None,
    )
    payload = result.model_dump(mode="json")
    payload["date"] = result.date.timestamp() if result.date else None
    return payload
