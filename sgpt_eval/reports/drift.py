"""Why two runs' numbers differ (`sgpt-eval diff A.json B.json`): what differs in their
identities and in how they ran, which queries moved, and how far their rankings agree.

The diagnosis reads in order of cause to effect. First every field of the two identities that
differs (settings, model settings with the revision, the data files' hashes, split, method),
then the versions of the libraries whose release alone moves a score (`schema.NUMERIC_PACKAGES`),
then everything else recorded about how each ran (other library versions, hardware, device,
batch size, the harness's commit). Then the effect: the per-query main metric (NDCG@10 on BEIR),
B against A, and the agreement of the two rankings read from the files beside the reports (in
their files' order, which keeps the run's order among scores equal to their six decimals).

Rank agreement is averaged over the queries both rankings rank, at depths 10 and 100:

* Kendall's tau-b (Kendall 1945, "The treatment of ties in ranking problems", Biometrika 33)
  over the union of the two top-k lists, a document missing from one list placed after that
  list's last rank, all such documents tied there: the extension of top-k lists of Fagin, Kumar
  and Sivakumar (2003, "Comparing top k lists", SIAM J. Discrete Math. 17), with tau-b's
  correction for those ties. Documents one list lacks count against agreement, so lists that
  share little read as negative. A query where tau is undefined (both lists hold one and the
  same document) is left out of that mean.
* Rank-biased overlap, extrapolated (RBO_EXT: Webber, Moffat and Zobel 2010, "A similarity
  measure for indefinite rankings", ACM TOIS 28(4), the form for lists of uneven length), with
  p = 0.9: the top 10 ranks then carry 86% of the weight, the ranks NDCG@10 scores. RBO_EXT is
  the paper's point estimate: it assumes the agreement seen at the evaluation depth goes on
  below it, so identical lists score 1 and disjoint ones 0.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scipy import stats

from ..errors import SgptEvalError
from ..retrieval.ranking import Ranking, read_ranking, top_k
from .compare import TIE
from .schema import NUMERIC_PACKAGES, Report, ranking_beside, read_report
from .systems import base_label

DEPTHS = (10, 100)
RBO_P = 0.9
MOVERS = 10  # the largest per-query changes listed
RUN_DETAILS = ("device", "batch_size")  # how a run computed: floating-point results can follow them
_ABSENT = object()


@dataclass(frozen=True)
class Change:
    """One field that differs: its path (e.g. "model.revision", "settings.bm25.k1"), its value in
    A and in B; `absent` says which report lacks the field ("a" or "b"; its value is then None)."""

    path: str
    a: object
    b: object
    absent: str | None = None

    def text(self) -> str:
        return f"{self.path}: {_shown(self.a, self.absent == 'a')} -> {_shown(self.b, self.absent == 'b')}"


@dataclass(frozen=True)
class QueryChange:
    query: str
    a: float
    b: float

    @property
    def change(self) -> float:
        return self.b - self.a


@dataclass(frozen=True)
class PerQueryChanges:
    """The per-query `metric`, B against A, over the queries both score."""

    metric: str
    queries: int  # scored by both
    only_a: int
    only_b: int
    up: int  # B higher than A
    down: int
    same: int  # within compare.TIE
    mean_a: float  # over the shared queries
    mean_b: float
    largest: tuple[QueryChange, ...]  # the largest changes either way, largest first


@dataclass(frozen=True)
class DepthAgreement:
    """Mean rank agreement of the two top-`depth` lists; None where no query could be measured."""

    depth: int
    kendall_tau: float | None
    tau_queries: int  # the queries tau is defined on
    rbo: float | None


@dataclass(frozen=True)
class RankAgreement:
    queries: int  # ranked by both, with at least one document each
    only_a: int  # ranked (with a document) by one ranking only
    only_b: int
    rbo_p: float
    depths: tuple[DepthAgreement, ...]


@dataclass(frozen=True)
class Drift:
    path_a: str
    path_b: str
    name_a: str
    name_b: str
    benchmark: str
    dataset: str
    identity: tuple[Change, ...]  # identity fields that differ
    numeric_versions: tuple[Change, ...]  # versions of NUMERIC_PACKAGES that differ
    numeric_same: dict[str, str]  # {"torch": "2.13.0+cpu"}: the NUMERIC_PACKAGES both record alike
    other: tuple[Change, ...]  # other versions, hardware, device, batch size, harness commit
    per_query: PerQueryChanges | None  # None when either report has no per-query scores
    rank_agreement: RankAgreement | None  # None when the reports have no rankings (USEB)

    def as_dict(self) -> dict:
        """Plain JSON values (lists, not tuples; no NaN), each query change with its `change` too."""
        payload = dataclasses.asdict(self)
        if self.per_query is not None:
            for entry, change in zip(payload["per_query"]["largest"], self.per_query.largest):
                entry["change"] = change.change
        return json.loads(json.dumps(payload, allow_nan=False))

    def summary(self) -> str:
        """The diagnosis as a person reads it: causes first, then what moved."""
        lines = [f"{self.dataset} ({self.benchmark}): A = {self.name_a}, B = {self.name_b}",
                 f"  A {self.path_a}", f"  B {self.path_b}"]
        lines += _section("identity", self.identity)
        lines += _section("libraries that move numbers", self.numeric_versions)
        if self.numeric_same:
            same = ", ".join(f"{name} {version}" for name, version in self.numeric_same.items())
            lines.append(f"  the same in both: {same}")
        lines += _section("how they ran otherwise (versions, hardware, device, harness commit)", self.other)
        lines += _per_query_lines(self.per_query)
        lines += _agreement_lines(self.rank_agreement)
        return "\n".join(lines)


def diff_reports(path_a: Path, path_b: Path, movers: int = MOVERS,
                 read: Callable[[Path], Ranking] = read_ranking) -> Drift:
    """The drift from report A to report B, two runs of one dataset; reports of different
    benchmarks or datasets are refused. `read` reads a ranking file: one diagnosing many pairs
    may pass a cached reader, so that each ranking is read once."""
    report_a, report_b = read_report(path_a), read_report(path_b)
    for key in ("benchmark", "dataset"):
        a, b = getattr(report_a.identity, key), getattr(report_b.identity, key)
        if a != b:
            raise SgptEvalError(f"diff: {path_a} is of {key} {a}, {path_b} of {b}; diff two runs of the same {key}")
    numeric_a, numeric_b = _numeric_versions(report_a), _numeric_versions(report_b)
    return Drift(
        path_a=str(path_a), path_b=str(path_b), name_a=base_label(report_a.identity),
        name_b=base_label(report_b.identity), benchmark=report_a.identity.benchmark,
        dataset=report_a.identity.dataset,
        identity=tuple(differences(report_a.identity.as_dict(), report_b.identity.as_dict())),
        numeric_versions=tuple(differences(numeric_a, numeric_b, "versions.")),
        numeric_same={name: version for name, version in numeric_a.items() if numeric_b.get(name) == version},
        other=tuple(differences(_how_it_ran(report_a), _how_it_ran(report_b))),
        per_query=per_query_changes(report_a, report_b, movers),
        rank_agreement=_rank_agreement(path_a, report_a, path_b, report_b, read),
    )


def _numeric_versions(report: Report) -> dict[str, str]:
    return {name: report.versions[name] for name in NUMERIC_PACKAGES if name in report.versions}


def differences(a: Mapping, b: Mapping, prefix: str = "") -> list[Change]:
    """Every leaf where two nested mappings differ, by dotted path, in A's key order then B's new
    keys; a mapping against null or no field (a BM25 run's model) is compared field by field."""
    changes = []
    for key in dict.fromkeys([*a, *b]):
        value_a, value_b = a.get(key, _ABSENT), b.get(key, _ABSENT)
        path = f"{prefix}{key}"
        pair = (value_a, value_b)
        if any(isinstance(value, Mapping) for value in pair) and all(
                isinstance(value, Mapping) or value is None or value is _ABSENT for value in pair):
            changes += differences(_mapping(value_a), _mapping(value_b), f"{path}.")
        elif value_a is _ABSENT or value_b is _ABSENT:
            changes.append(Change(path, None if value_a is _ABSENT else value_a,
                                  None if value_b is _ABSENT else value_b, "a" if value_a is _ABSENT else "b"))
        elif _canonical(value_a) != _canonical(value_b):
            changes.append(Change(path, value_a, value_b))
    return changes


def _mapping(value: object) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def _how_it_ran(report: Report) -> dict:
    """What a report records of how it ran, besides its identity and the numerics libraries."""
    return {"versions": {name: version for name, version in report.versions.items() if name not in NUMERIC_PACKAGES},
            "hardware": report.hardware,
            "details": {name: report.details[name] for name in RUN_DETAILS if name in report.details},
            "harness_git": report.harness_git or {}}


def per_query_changes(report_a: Report, report_b: Report, movers: int = MOVERS) -> PerQueryChanges | None:
    metric = report_a.main_metric
    scores_a, scores_b = report_a.per_query.get(metric) or {}, report_b.per_query.get(metric) or {}
    shared = [query for query in scores_a if query in scores_b]
    if not shared:
        return None
    changes = [QueryChange(query, float(scores_a[query]), float(scores_b[query])) for query in shared]
    largest = sorted((change for change in changes if abs(change.change) > TIE),
                     key=lambda change: (-abs(change.change), change.query))[:movers]
    return PerQueryChanges(
        metric=metric, queries=len(shared), only_a=len(scores_a) - len(shared), only_b=len(scores_b) - len(shared),
        up=sum(change.change > TIE for change in changes), down=sum(change.change < -TIE for change in changes),
        same=sum(abs(change.change) <= TIE for change in changes),
        mean_a=math.fsum(change.a for change in changes) / len(changes),
        mean_b=math.fsum(change.b for change in changes) / len(changes), largest=tuple(largest))


def _rank_agreement(path_a: Path, report_a: Report, path_b: Path, report_b: Report,
                    read: Callable[[Path], Ranking]) -> RankAgreement | None:
    if report_a.ranking_file is None and report_b.ranking_file is None:
        return None
    return rank_agreement(read(ranking_beside(path_a, report_a)), read(ranking_beside(path_b, report_b)))


def rank_agreement(a: Ranking, b: Ranking, depths: Sequence[int] = DEPTHS, p: float = RBO_P) -> RankAgreement:
    """Mean Kendall's tau-b and RBO_EXT of each depth's top-k lists over the queries both rank."""
    lists_a = {depth: _ordered(top_k(a, depth)) for depth in depths}
    lists_b = {depth: _ordered(top_k(b, depth)) for depth in depths}
    ranked_a = {query for query, hits in a.items() if hits}
    ranked_b = {query for query, hits in b.items() if hits}
    shared = sorted(ranked_a & ranked_b)
    levels = []
    for depth in depths:
        taus = [tau for tau in (top_k_tau(lists_a[depth][q], lists_b[depth][q]) for q in shared) if not math.isnan(tau)]
        rbos = [rbo_ext(lists_a[depth][q], lists_b[depth][q], p) for q in shared]
        levels.append(DepthAgreement(depth, _mean(taus), len(taus), _mean(rbos)))
    return RankAgreement(len(shared), len(ranked_a - ranked_b), len(ranked_b - ranked_a), p, tuple(levels))


def _ordered(ranking: Ranking) -> dict[str, list[str]]:
    """Each query's documents in rank order (`top_k` keeps the order, the file's order among equal scores)."""
    return {query: list(hits) for query, hits in ranking.items()}


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def top_k_tau(a: Sequence[str], b: Sequence[str]) -> float:
    """Kendall's tau-b of two top-k lists over their union, each list's missing documents tied
    just after its last rank; NaN where it is undefined (a union of fewer than two documents)."""
    union = list(dict.fromkeys([*a, *b]))
    if len(union) < 2:
        return math.nan
    rank_a, rank_b = {doc: rank for rank, doc in enumerate(a)}, {doc: rank for rank, doc in enumerate(b)}
    return float(stats.kendalltau([rank_a.get(doc, len(a)) for doc in union],
                                  [rank_b.get(doc, len(b)) for doc in union], variant="b").statistic)


def rbo_ext(a: Sequence[str], b: Sequence[str], p: float = RBO_P) -> float:
    """Extrapolated rank-biased overlap of two lists of distinct ids (Webber et al. 2010, RBO_EXT
    for lists of uneven length l >= s): with X_d the overlap of the lists' first d items (of L's
    first d and all of S below depth s),
    (1-p)/p * (sum_{d=1..l} X_d/d p^d + sum_{d=s+1..l} X_s (d-s)/(s d) p^d) + ((X_l - X_s)/l + X_s/s) p^l.
    An empty list agrees with nothing: 0."""
    long, short = (a, b) if len(a) >= len(b) else (b, a)
    l, s = len(long), len(short)
    if s == 0:
        return 0.0
    seen_long: set[str] = set()
    seen_short: set[str] = set()
    whole_short = set(short)
    overlap, weighted, overlap_at_s = 0, 0.0, 0
    for d in range(1, l + 1):
        item = long[d - 1]
        if d <= s:
            other = short[d - 1]
            overlap += 1 if item == other else (item in seen_short) + (other in seen_long)
            seen_long.add(item)
            seen_short.add(other)
            overlap_at_s = overlap
        else:
            overlap += item in whole_short
            weighted += overlap_at_s * (d - s) / (s * d) * p ** d
        weighted += overlap / d * p ** d
    return (1 - p) / p * weighted + ((overlap - overlap_at_s) / l + overlap_at_s / s) * p ** l


def _section(title: str, changes: Sequence[Change]) -> list[str]:
    if not changes:
        return [f"{title}: the same"]
    count = f"{len(changes)} difference{'' if len(changes) == 1 else 's'}"
    return [f"{title}: {count}", *(f"  {change.text()}" for change in changes)]


def _shown(value: object, absent: bool) -> str:
    """A value on one line: a string as it is (a sha256 cut to 12 characters), quoted where it holds
    a line break or other unprintable character; anything else as JSON."""
    if absent:
        return "(absent)"
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return f"{value[:12]}…"
    if isinstance(value, str) and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False)


def _per_query_lines(changes: PerQueryChanges | None) -> list[str]:
    if changes is None:
        return ["per-query scores: none to compare (a report without per-query scores, or no query in common)"]
    lines = [f"per-query {changes.metric}, B - A, over the {changes.queries} queries both score: "
             f"{changes.up} up, {changes.down} down, {changes.same} the same; "
             f"mean {changes.mean_a:.4f} -> {changes.mean_b:.4f} ({changes.mean_b - changes.mean_a:+.4f})"]
    if changes.only_a or changes.only_b:
        lines.append(f"  queries scored by one only: {changes.only_a} by A, {changes.only_b} by B")
    if changes.largest:
        lines.append("  largest changes (query: A -> B):")
        lines += [f"    {change.query}: {change.a:.4f} -> {change.b:.4f} ({change.change:+.4f})"
                  for change in changes.largest]
    return lines


def _agreement_lines(agreement: RankAgreement | None) -> list[str]:
    if agreement is None:
        return ["rank agreement: no rankings beside these reports"]
    lines = [f"rank agreement, mean over the {agreement.queries} queries both rank"
             + (f" ({agreement.only_a} ranked by A only, {agreement.only_b} by B only)"
                if agreement.only_a or agreement.only_b else "") + ":"]
    for level in agreement.depths:
        lines.append(f"  top {level.depth}: Kendall's tau-b {_value(level.kendall_tau)}"
                     + (f" (on {level.tau_queries} queries)" if level.tau_queries != agreement.queries else "")
                     + f", RBO_EXT (p = {agreement.rbo_p:g}) {_value(level.rbo)}")
    return lines


def _value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
