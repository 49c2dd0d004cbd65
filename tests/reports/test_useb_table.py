"""The USEB table says, per measured dataset, why its cells have no interval."""

from __future__ import annotations

from sgpt_eval.reports.schema import Identity, Report, write_report
from sgpt_eval.reports.useb_table import useb_table


def test_a_measured_dataset_says_why_it_has_no_interval(tmp_path):
    identity = Identity("useb", "twitterpara", "test", {"test": "h"}, "dense", {"model": "all-MiniLM-L6-v2"},
                        {"encoded_as": "query"})
    write_report(Report(identity, "ap_twitter_avg", {"ap_twitter_avg": 0.7451}, {}, {}, {}), tmp_path)

    text = useb_table(tmp_path)

    assert "| all-MiniLM-L6-v2 | missing | missing | 74.51 | missing | missing | measured (test) |" in text
    assert text.endswith("- No interval for TwitterPara: average precision over all pairs has no per-pair breakdown.")
    assert "AskUbuntu:" not in text  # only the datasets measured get a note
