"""Score regressions: a baseline recorded from a report, then broken on purpose."""

from __future__ import annotations

import json
import re

import pytest

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.reports.regress import check, record_baseline

from ..synthetic_reports import write_report


@pytest.fixture
def recorded(tmp_path):
    """A measured SciFact report and the baseline recorded from it (NDCG@10 0.64508 ± 0.002)."""
    results, baselines = tmp_path / "results", tmp_path / "results" / "baselines"
    report = write_report(results, "scifact", "dense", "all-MiniLM-L6-v2", 0.64508)
    baseline = record_baseline(report, 0.002, baselines)
    return results, baselines, baseline, report


def test_a_baseline_holds_the_measured_number_and_how_it_was_made(recorded):
    _, _, baseline, _ = recorded
    stored = json.loads(baseline.read_text())
    assert stored["value"] == 0.64508 and stored["tolerance"] == 0.002 and stored["metric"] == "NDCG@10"
    assert stored["command"] == "sgpt-eval eval --dataset scifact --model all-MiniLM-L6-v2"
    assert stored["versions"]["torch"] == "2.13.0"
    assert stored["measured"] == "2025-01-01T00:00:00+00:00"
    assert re.search(r"beir/scifact/dense/all-MiniLM-L6-v2\.[0-9a-f]{12}\.json$", stored["report"])


def test_a_score_within_tolerance_passes(recorded):
    results, baselines, _, _ = recorded
    write_report(results, "scifact", "dense", "all-MiniLM-L6-v2", 0.64508 + 0.0015)
    assert check(results, baselines) == []


def test_a_score_beyond_tolerance_fails_naming_metric_expected_measured_and_tolerance(recorded):
    results, baselines, baseline, _ = recorded
    write_report(results, "scifact", "dense", "all-MiniLM-L6-v2", 0.61, versions={"python": "3.11.0", "torch": "2.14.0"})

    failures = check(results, baselines)

    assert len(failures) == 1
    message = str(failures[0])
    assert message.startswith(f"{baseline}: scifact dense all-MiniLM-L6-v2: NDCG@10 measured 0.61000, expected 0.64508 ± 0.002")
    assert "off by -0.03508" in message
    assert "versions changed: torch 2.13.0 -> 2.14.0" in message


def test_a_baseline_without_its_report_fails_with_the_command_to_rerun(recorded):
    results, baselines, _, report = recorded
    report.unlink()
    [failure] = check(results, baselines)
    assert "no measured report for beir scifact dense all-MiniLM-L6-v2" in failure.message
    assert "re-run: sgpt-eval eval --dataset scifact --model all-MiniLM-L6-v2" in failure.message


def test_checking_listed_reports_skips_baselines_they_do_not_cover(recorded, tmp_path):
    _, baselines, _, _ = recorded
    other = write_report(tmp_path / "elsewhere", "nfcorpus", "dense", "all-MiniLM-L6-v2", 0.1)
    assert check([other], baselines) == []
    drifted = write_report(tmp_path / "elsewhere", "scifact", "dense", "all-MiniLM-L6-v2", 0.7)
    assert len(check([other, drifted], baselines)) == 1


def test_bad_inputs_are_one_line_errors(recorded, tmp_path):
    results, baselines, baseline, report = recorded
    with pytest.raises(SgptEvalError, match="must be a finite number >= 0"):
        record_baseline(report, -1, baselines)
    baseline.write_text('{"dataset": "scifact"}')
    with pytest.raises(SgptEvalError, match="baseline lacks identity, metric"):
        check(results, baselines)
    with pytest.raises(SgptEvalError, match="no baselines"):
        check(results, tmp_path / "empty")
