"""`sgpt-eval table | compare | diff | regress | annotate`: the reporting subcommands, added to the main parser."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from .. import folders
from ..errors import SgptEvalError
from .options import add_verbosity

log = logging.getLogger("sgpt_eval")

DEFAULT_TOLERANCE = 0.005  # absolute NDCG@10; re-runs on other hardware or dtypes move scores by ~1e-3


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the table, compare, diff and regress subcommands to `sgpt-eval`'s subparsers."""
    table = commands.add_parser("table", help="the paper's BEIR table from results/, published numbers beside ours")
    _add_results_dir(table)
    table.add_argument("--format", choices=("md", "latex", "csv"), default="md", help="what to print (all three are written)")
    table.add_argument("--dataset", action="append", default=[], help="only this BEIR dataset (repeatable)")
    table.add_argument("--published-csv", type=Path, help="published scores (default: the package's beir_ndcg10.csv)")
    table.add_argument("--published", action="append", default=[],
                       help="also show this published column, e.g. 'SGPT-5.8B-weightedmean-msmarco-specb-bitfit' (repeatable)")
    table.add_argument("--output-dir", type=Path, help="where the .md/.tex/.csv files go (default: RESULTS_DIR/tables)")
    table.add_argument("--baseline", metavar="NAME",
                       help="a column of ours, e.g. BM25: every other column of ours is tested against it dataset by "
                            "dataset (paired randomization test, Holm-corrected), and cells it cannot be told apart from "
                            "are marked ≈")
    table.add_argument("--paper-table", choices=("be", "ce", "useb"),
                       help="one of the SGPT paper's tables: be (BEIR bi-encoders and BM25, the paper's BM25 and SGPT-BE "
                            "columns beside), ce (BM25 and its re-rankers, with the 18- and 11-dataset averages), "
                            "useb (the USEB table, Markdown only)")
    _defaults(table, _table)

    compare = commands.add_parser("compare", help="per-query NDCG@10 differences and paired significance tests")
    compare.add_argument("reports", nargs="*", type=Path, metavar="REPORT", help="two report files: A and B")
    compare.add_argument("--dataset", action="append", default=[],
                         help="with --a/--b: the dataset whose reports to compare (repeatable: each is compared, "
                              "and the p-values are Holm-corrected over them)")
    compare.add_argument("--a", help="METHOD:MODEL of system A, e.g. dense:all-MiniLM-L6-v2")
    compare.add_argument("--b", help="METHOD:MODEL of system B, e.g. bm25:bm25s")
    _add_results_dir(compare)
    compare.add_argument("--permutations", type=int, default=10_000, help="sign flips of the randomization test")
    compare.add_argument("--seed", type=int, default=0, help="seed of the randomization test and the bootstrap")
    compare.add_argument("--resamples", type=int, default=10_000,
                         help="bootstrap resamples of the interval of A - B")
    compare.add_argument("--intersect", action="store_true",
                         help="reports over different query sets: compare the queries both have (refused otherwise)")
    _defaults(compare, _compare)

    diff = commands.add_parser("diff", help="why two runs' numbers differ: identity, library versions, "
                                             "per-query NDCG@10 changes, rank agreement (Kendall's tau, RBO)")
    diff.add_argument("report_a", type=Path, metavar="A", help="report A (.json), its ranking beside it")
    diff.add_argument("report_b", type=Path, metavar="B", help="report B, a run of the same dataset")
    diff.add_argument("--movers", type=int, default=10, help="how many of the largest per-query changes to list")
    diff.add_argument("--json", action="store_true", help="print the diagnosis as JSON, for programs")
    _defaults(diff, _diff)

    regress = commands.add_parser("regress", help="check measured reports against the pinned baselines")
    regress.add_argument("reports", nargs="*", type=Path, metavar="REPORT",
                         help="only these reports (default: every report under --results-dir)")
    _add_results_dir(regress)
    regress.add_argument("--baselines-dir", type=Path, help="default: RESULTS_DIR/baselines")
    regress.add_argument("--record", action="store_true", help="write baselines from the reports instead of checking")
    regress.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE, help="absolute, for --record")
    regress.add_argument("--metric", help="the metric --record pins (default: NDCG@10; a USEB report's main metric)")
    _defaults(regress, _regress)

    annotate = commands.add_parser(
        "annotate", help="add judged@10 and the optimistic NDCG@10 bound to BEIR reports that lack them, from their "
                         "ranking files and the qrels (nothing is measured again; reports that have them are left alone)")
    _add_results_dir(annotate)
    annotate.add_argument("--data-dir", help=f"folder of BEIR datasets (default: ${folders.BEIR_DIR_ENV} or ./datasets)")
    _defaults(annotate, _annotate)


def _add_results_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-dir", type=Path, default=Path("results"),
                        help="folder of run reports (default: ./results)")


def _defaults(parser: argparse.ArgumentParser, handler) -> None:
    """These commands use no model cache; main() still reads --cache-dir, -v and -q from every command."""
    add_verbosity(parser)
    parser.set_defaults(handler=handler, cache_dir=None)


def _table(args: argparse.Namespace, cache_dir: Path) -> None:
    output_dir = args.output_dir or args.results_dir / "tables"
    if args.paper_table == "useb":
        _useb_table(args, output_dir)
        return
    print(write_beir_table(args.results_dir, output_dir, args.paper_table, args.format, args.published_csv,
                           args.dataset, args.published, args.baseline), end="")


def write_beir_table(results_dir: Path, output_dir: Path, paper_table: str | None = None, fmt: str = "md",
                     published_csv: Path | None = None, datasets: Sequence[str] = (),
                     published: Sequence[str] = (), baseline: str | None = None) -> str:
    """A BEIR table (the paper's `be` or `ce`, or every system) written in every format under
    `output_dir`; returned in `fmt`."""
    from ..reports.tables import build_paper_table, build_table, render, write_tables

    if paper_table:
        table = build_paper_table(results_dir, paper_table, published_csv, datasets, published, baseline)
    else:
        table = build_table(results_dir, published_csv, datasets, published, baseline=baseline)
    stem = "-".join(["beir_ndcg10", *([paper_table] if paper_table else []), *sorted(set(datasets))])
    for path in write_tables(table, output_dir, stem):
        log.info("wrote %s", path)
    return render(table, fmt)


def _useb_table(args: argparse.Namespace, output_dir: Path) -> None:
    refused = {"--format": args.format != "md", "--dataset": args.dataset, "--published-csv": args.published_csv,
               "--published": args.published, "--baseline": args.baseline}
    given = [flag for flag, value in refused.items() if value]
    if given:
        raise SgptEvalError(f"--paper-table useb: leave out {', '.join(given)} (BEIR table options); "
                            "the USEB table is Markdown, its published rows from the package's useb.csv")
    print(write_useb_table(args.results_dir, output_dir), end="")


def write_useb_table(results_dir: Path, output_dir: Path) -> str:
    """The USEB table of `sgpt-eval useb-table`, written as useb.md beside the BEIR tables and returned."""
    from ..reports.useb_table import useb_table
    from ..storage import atomic_open

    text = useb_table(results_dir) + "\n"
    path = output_dir / "useb.md"
    with atomic_open(path) as handle:
        handle.write(text)
    log.info("wrote %s", path)
    return text


def _compare(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..reports.compare import compare_reports, find_system, holm_summary

    if args.reports and (args.a or args.b):
        raise SgptEvalError("compare: give either two REPORT files or --dataset with --a and --b, not both")
    if args.reports:
        if len(args.reports) != 2:
            raise SgptEvalError(f"compare: expected two REPORT files, got {len(args.reports)}")
        pairs = [tuple(args.reports)]
    else:
        if not (args.dataset and args.a and args.b):
            raise SgptEvalError("compare: give two REPORT files, or --dataset, --a METHOD:MODEL and --b METHOD:MODEL")
        pairs = [tuple(_report_for(args.results_dir, dataset, system, flag, find_system)
                       for system, flag in ((args.a, "--a"), (args.b, "--b"))) for dataset in args.dataset]
    for flag, value in (("--permutations", args.permutations), ("--resamples", args.resamples)):
        if value < 1:
            raise SgptEvalError(f"{flag} {value}: must be at least 1")
    comparisons = [compare_reports(path_a, path_b, permutations=args.permutations, seed=args.seed,
                                   intersect=args.intersect, resamples=args.resamples) for path_a, path_b in pairs]
    print("\n".join(comparison.summary() for comparison in comparisons))
    if len(comparisons) > 1:
        print(holm_summary(comparisons))


def _report_for(results_dir: Path, dataset: str, system: str, flag: str, find_system) -> Path:
    method, _, model = system.partition(":")
    if not (method and model):
        raise SgptEvalError(f"{flag} {system}: expected METHOD:MODEL, e.g. dense:all-MiniLM-L6-v2")
    try:
        return find_system(results_dir, dataset, method, model)
    except SgptEvalError as exc:
        raise SgptEvalError(f"{flag} {exc}") from None


def _diff(args: argparse.Namespace, cache_dir: Path) -> None:
    import json

    from ..reports.drift import diff_reports

    if args.movers < 0:
        raise SgptEvalError(f"--movers {args.movers}: must be 0 or more")
    drift = diff_reports(args.report_a, args.report_b, args.movers)
    print(json.dumps(drift.as_dict(), indent=2, ensure_ascii=False) if args.json else drift.summary())


def _regress(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..reports.regress import check, record_baseline
    from ..reports.schema import find_reports

    baselines_dir = args.baselines_dir or args.results_dir / "baselines"
    if args.record:
        for report in args.reports or [path for path, _ in find_reports(args.results_dir)]:
            print(f"recorded {record_baseline(report, args.tolerance, baselines_dir, args.metric)}")
        return
    failures = check(args.reports or args.results_dir, baselines_dir)
    for failure in failures:
        print(f"FAIL {failure}")
    if failures:
        raise SgptEvalError(f"regress: {len(failures)} baseline(s) in {baselines_dir} not met; see the FAIL lines above")
    print(f"regress: every baseline in {baselines_dir} is met")


def _annotate(args: argparse.Namespace, cache_dir: Path) -> None:
    from ..evaluation.annotate import annotate_all

    outcomes = annotate_all(args.results_dir, folders.beir_dir(args.data_dir))
    for outcome in outcomes:
        print(outcome.line())
    failed = sum(outcome.problem != "" for outcome in outcomes)
    if failed:
        raise SgptEvalError(f"annotate: {failed} report(s) could not be annotated; see the lines above")
