"""The report of one evaluation, BEIR or USEB: typed, with an identity, written and read here only.

A run's identity is everything that changes its numbers: benchmark, dataset, split, the
hashes of the data files read, the method, the model's resolved settings (revision included)
and the run's settings (depth, score function, first stage, query subset). Two evaluations
share a report file only when they share an identity: the file name is a readable label plus
a digest of it, `results/<benchmark>/<dataset>/<method>/<label>.<digest>.json`, with the
ranking beside it as a gzip-compressed TREC file (`<label>.<digest>.trec.gz`, named in the
report's `ranking_file`; a plain `.trec` named there is read as well). How a run was made without changing its numbers (device,
batch size, caches, timings, versions, the harness's git commit, the data folder) is recorded
too, but is not part of the identity.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ..data.catalogue import default_split
from ..errors import SgptEvalError
from ..models.presets import find_preset
from ..models.store import slug
from ..retrieval.ranking import Ranking, write_trec
from ..storage import digest, write_json

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
BENCHMARKS = ("beir", "useb")
# Settings that say where and on what a run was measured rather than how: a regression
# baseline still applies when they change (it then says so).
PROVENANCE_SETTINGS = ("revision",)
_PACKAGES = ("sgpt-eval", "torch", "transformers", "sentence-transformers", "beir", "faiss-cpu", "faiss-gpu",
             "pytrec-eval-terrier", "numpy", "bm25s", "pandas", "scikit-learn", "scipy")
# The libraries whose release alone can move a score (kernels, tokenization, search, BM25, metrics).
NUMERIC_PACKAGES = ("torch", "transformers", "faiss-cpu", "faiss-gpu", "bm25s", "pytrec-eval-terrier")
_GIT_TIMEOUT_S = 10
RANKING_SUFFIX = ".trec.gz"  # a report's ranking: TREC, gzip-compressed (a sixth of the bytes)
# What the judgements see of a BEIR run's top 10, per query in `per_query` and as run means in
# `metrics`. Reports written before them lack both (`sgpt-eval annotate` adds them from the ranking
# file and the qrels); readers treat them as optional.
JUDGED = "Judged@10"
OPTIMISTIC_NDCG = "OptimisticNDCG@10"
JUDGEMENT_METRICS = (JUDGED, OPTIMISTIC_NDCG)
# Where a USEB report whose main metric is no mean over queries (TwitterPara's AP over pairs) keeps
# its 95% interval, made when it was measured: {"low", "high", "resamples", "seed", "pairs"}.
PAIR_INTERVAL = "interval_95_over_pairs"


@dataclass(frozen=True)
class Identity:
    """What makes two runs the same run; its digest names the report file."""

    benchmark: str
    dataset: str
    split: str
    data_files_sha256: dict[str, str]
    method: str
    model: dict | None  # resolved model settings (None for BM25)
    settings: dict  # the run's settings that change its numbers

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        return digest(self.as_dict(), 12)

    @property
    def system(self) -> str:
        """The system as the run named it, read from the identity alone: the model option as given,
        "bm25s" for BM25, and for a fusion its method ("rrf", "weighted")."""
        if self.method == "fusion":
            return self.settings["fusion"]
        return self.model["model"] if self.model is not None else "bm25s"

    @property
    def model_name(self) -> str:
        """The system for people: a preset's name for its hub id too, so that tables group them."""
        preset = find_preset(self.system) if self.model is not None else None
        return preset.name if preset else self.system

    def label(self) -> str:
        """A readable name from the identity alone (never from a lookup table that may change, which
        would rename the report): the system, and the query subset when there is one."""
        max_queries = self.settings.get("max_queries")
        return slug(self.system) + (f"-first{max_queries}q" if max_queries else "")

    def file_stem(self) -> str:
        return f"{self.label()}.{self.digest()}"

    def configuration(self) -> dict[str, object]:
        """Every setting as one flat `name=value` mapping (model settings, then run settings, then
        the split when it is not the dataset's evaluation split): what tells two configurations of
        one system apart in a table."""
        flat = {key: value for key, value in (self.model or {}).items() if key != "model"}
        flat.update(_flatten(self.settings))
        if self.benchmark == "beir" and self.split != default_split(self.dataset):
            flat["split"] = self.split
        return flat

    def comparable(self) -> dict:
        """The identity less what a regression baseline tolerates changing (model revision, data hashes)."""
        model = {key: value for key, value in (self.model or {}).items() if key not in PROVENANCE_SETTINGS}
        return {**self.as_dict(), "model": model or None, "data_files_sha256": None}


def _flatten(settings: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass
class Report:
    identity: Identity
    main_metric: str
    metrics: dict[str, float]
    # metric -> query id -> score. BEIR: NDCG@10, and JUDGEMENT_METRICS; USEB: the figures whose mean
    # is the main metric (`evaluation.useb_metrics.UsebScores`)
    per_query: dict[str, dict[str, float]]
    details: dict  # how it ran: device, batch size, caches, counts
    timings_s: dict[str, float]
    versions: dict[str, str] = field(default_factory=dict)
    hardware: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""
    ranking_file: str | None = None
    harness_git: dict | None = None  # {"commit", "dirty"} of the sgpt_eval checkout that ran it
    data_dir: str | None = None  # the data folder, absolute
    schema_version: int = SCHEMA_VERSION

    @property
    def main_score(self) -> float:
        return self.metrics[self.main_metric]

    def file_stem(self) -> str:
        return self.identity.file_stem()

    def path(self, results_dir: Path) -> Path:
        return report_path(results_dir, self.identity)

    def to_json(self) -> dict:
        return {"schema_version": self.schema_version, "identity": self.identity.as_dict(), "digest": self.identity.digest(),
                **{name: getattr(self, name) for name in _BODY}}


_BODY = ("main_metric", "metrics", "per_query", "details", "timings_s", "versions", "hardware", "command", "created",
         "ranking_file", "harness_git", "data_dir")
# Body fields added after reports were first written under this schema: read as None when absent.
_OPTIONAL_BODY = ("harness_git", "data_dir")


def new_report(identity: Identity, main_metric: str, metrics: dict[str, float], per_query: dict[str, dict[str, float]],
               details: dict, timings: dict[str, float], data_dir: Path | None = None) -> Report:
    """A report of a run that just finished, with the provenance of this process and of the data
    folder it read (outside the identity: neither changes the report's digest)."""
    return Report(
        identity=identity, main_metric=main_metric, metrics=metrics, per_query=per_query, details=details,
        timings_s={name: round(value, 3) for name, value in timings.items()}, versions=package_versions(),
        hardware=hardware(), command=" ".join(sys.argv),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        harness_git=harness_git(), data_dir=str(Path(data_dir).resolve()) if data_dir is not None else None,
    )


def write_report(report: Report, results_dir: Path, ranking: Ranking | None = None) -> Path:
    """Write the ranking (gzip TREC) first and the report last, each atomically: a report means a
    finished run, and a ranking whose report could not be written (a full disk) is removed, not left
    orphaned."""
    path = report.path(results_dir)
    ranking_path = path.parent / f"{report.file_stem()}{RANKING_SUFFIX}"
    if ranking is not None:
        write_trec(ranking_path, ranking, tag=f"{report.identity.method}-{report.file_stem()}")
        report.ranking_file = ranking_path.name
    try:
        write_json(path, report.to_json())
    except BaseException:
        if ranking is not None and not path.exists():
            ranking_path.unlink(missing_ok=True)
        raise
    return path


def read_report(path: Path) -> Report:
    """A report from disk, checked field by field; anything else is one error naming the file."""
    payload = read_json(path)
    version = payload.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SgptEvalError(f"{path}: report schema {version or 1}, this sgpt-eval reads schema {SCHEMA_VERSION}; "
                            "run the evaluation again to rewrite it")
    try:
        identity = Identity(**payload["identity"])
        body = {name: payload[name] if name not in _OPTIONAL_BODY else payload.get(name) for name in _BODY}
        report = Report(identity=identity, **body)
    except (KeyError, TypeError) as exc:
        raise SgptEvalError(f"{path}: not a complete report ({exc}); run the evaluation again") from None
    if payload.get("digest") != identity.digest():
        raise SgptEvalError(f"{path}: its identity does not match its digest (edited by hand?); run the evaluation again")
    if identity.benchmark not in BENCHMARKS or not _finite(report.metrics.get(report.main_metric)):
        raise SgptEvalError(f"{path}: no finite {report.main_metric} for benchmark {identity.benchmark}; run it again")
    return report


def ranking_beside(path: Path, report: Report) -> Path:
    """The ranking file that the report read from `path` names, beside it; an error naming both
    when there is none (a USEB report, or a ranking not copied with its report)."""
    ranking = path.parent / (report.ranking_file or "")
    if not report.ranking_file or not ranking.is_file():
        raise SgptEvalError(f"{path}: its ranking file {report.ranking_file or ''} is not beside it; "
                            "run that evaluation again to write it")
    return ranking


def read_json(path: Path) -> dict:
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SgptEvalError(f"{path}: no such file; check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SgptEvalError(f"{path}: not valid JSON ({exc}); fix or delete the file") from None
    if not isinstance(payload, dict):
        raise SgptEvalError(f"{path}: expected a JSON object; fix or delete the file")
    return payload


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def find_reports(results_dir: Path, benchmark: str | None = None) -> list[tuple[Path, Report]]:
    """Every report under `results_dir` (of one benchmark when given); unreadable files are
    skipped with a warning naming them, so one stray file does not hide the rest."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise SgptEvalError(f"{results_dir}: no such results folder; run an evaluation first or pass --results-dir")
    found = []
    for name in (benchmark,) if benchmark else BENCHMARKS:
        for path in sorted((results_dir / name).rglob("*.json")):
            try:
                found.append((path, read_report(path)))
            except SgptEvalError as exc:
                log.warning("skipped: %s", exc)
    return found


def report_path(results_dir: Path, identity: Identity) -> Path:
    """results/<benchmark>/<dataset>/<method>/<label>.<digest>.json"""
    return Path(results_dir) / identity.benchmark / identity.dataset / identity.method / f"{identity.file_stem()}.json"


def existing(results_dir: Path, identity: Identity) -> Path | None:
    """The report of this identity, if one is on disk and reads back as that identity."""
    path = report_path(results_dir, identity)
    if not path.is_file():
        return None
    try:
        return path if read_report(path).identity == identity else None
    except SgptEvalError as exc:
        log.warning("%s; it will be written again", exc)
        return None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def version_differences(versions: Iterable[Mapping[str, str]]) -> str:
    """The numerics libraries that these recorded `versions` (one mapping per report) name at more
    than one version, e.g. "torch 2.13.0+cpu, 2.14.0; transformers 5.23.0, 5.25.0"; "" when they
    agree. A report that does not record a library is no evidence either way."""
    versions = list(versions)
    seen = {name: sorted({recorded[name] for recorded in versions if name in recorded}) for name in NUMERIC_PACKAGES}
    return "; ".join(f"{name} {', '.join(found)}" for name, found in seen.items() if len(found) > 1)


def warn_version_differences(versions: Iterable[Mapping[str, str]], what: str) -> None:
    """One warning line when `what` (the reports a table, comparison or regression check sets side
    by side) were made with different versions of the libraries that move numbers."""
    differences = version_differences(versions)
    if differences:
        log.warning("%s were made with different versions of libraries that move numbers: %s", what, differences)


@functools.lru_cache(maxsize=1)
def harness_git() -> dict | None:
    """The commit of the checkout this sgpt_eval runs from, and whether its tracked files differ
    from it; None when the package is not tracked in a git checkout (an installed copy) or git is
    missing or fails: provenance is never a reason for a run to fail. Read once per process."""
    package = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True, check=True,
                              timeout=_GIT_TIMEOUT_S).stdout.strip()

    try:
        git("ls-files", "--error-unmatch", "__init__.py")  # this package's repository, not one it merely lies in
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return None


def device_kind(device: str) -> str:
    """"gpu" for a CUDA device, else the device's type ("cpu", "mps"): the suffix of a benchmark's
    result file, so that figures from different hardware never overwrite each other."""
    kind = device.split(":")[0]
    return "gpu" if kind == "cuda" else kind


def hardware() -> dict:
    import torch

    info = {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return info
