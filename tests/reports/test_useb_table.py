"""The USEB table's intervals: from a report's per-query scores, from TwitterPara's interval over
pairs, and a note where a report has neither."""

from __future__ import annotations

import pytest

from sgpt_eval.reports.schema import PAIR_INTERVAL, Identity, Report, write_report
from sgpt_eval.reports.uncertainty import average_interval
from sgpt_eval.reports.useb_table import main_interval, useb_table


def write(folder, dataset: str, main: str, score: float, per_query=None, details=None) -> Report:
    identity = Identity("useb", dataset, "test", {"test": "h"}, "dense", {"model": "all-MiniLM-L6-v2"},
                        {"encoded_as": "query"})
    report = Report(identity, main, {main: score}, per_query or {}, details or {}, {})
    write_report(report, folder)
    return report


def test_a_cell_shows_its_interval_from_per_query_scores(tmp_path):
    forums = {"map@100_cqadupstack_a": {"q1": 0.2, "q2": 0.4}, "map@100_cqadupstack_b": {"g1": 0.0, "g2": 0.1, "g3": 0.2}}
    report = write(tmp_path, "cqadupstack", "map@100_cqadupstack_avg", 0.2, forums)
    interval = main_interval(report)
    # The mean of the forums' means, each forum's queries resampled on their own.
    assert interval == average_interval([[0.2, 0.4], [0.0, 0.1, 0.2]])
    assert interval.low < 0.2 < interval.high

    text = useb_table(tmp_path)

    cell = f"20.00 [{100 * interval.low:.2f}, {100 * interval.high:.2f}]"
    assert f"| all-MiniLM-L6-v2 | missing | {cell} | missing | missing | missing | measured (test) |" in text
    assert "No interval for" not in text and "The average has no interval" not in text


def test_twitterpara_shows_the_interval_over_pairs_it_was_measured_with(tmp_path):
    stored = {"low": 0.7312, "high": 0.7588, "resamples": 10_000, "seed": 0, "pairs": {"twitterurl": 9000}}
    write(tmp_path, "twitterpara", "ap_twitter_avg", 0.7451, details={PAIR_INTERVAL: stored})

    assert "| all-MiniLM-L6-v2 | missing | missing | 74.51 [73.12, 75.88] | missing | missing |" in useb_table(tmp_path)


def test_a_report_without_what_an_interval_needs_says_so(tmp_path):
    write(tmp_path, "twitterpara", "ap_twitter_avg", 0.7451)

    text = useb_table(tmp_path)

    assert "| all-MiniLM-L6-v2 | missing | missing | 74.51 | missing | missing | measured (test) |" in text
    assert text.endswith("- No interval for all-MiniLM-L6-v2 on TwitterPara: the report holds neither per-query "
                         "scores nor an interval over pairs (`sgpt-eval useb --force` measures again).")
