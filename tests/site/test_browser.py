"""The results site in a real browser: headless Chromium opens the built site from disk, and the
page must show the reports' numbers (with their intervals and judged@10), open a run from its cell,
compare two systems with `diff`'s rank agreement, and load nothing from outside its own folder.
Without Chromium and its driver the test skips, saying why; on CI (where `.ci/run` installs them)
that is a failure."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from sgpt_eval.cli import main
from sgpt_eval.reports.compare import compare_scores
from sgpt_eval.reports.drift import diff_reports
from sgpt_eval.reports.schema import PAIR_INTERVAL, find_reports
from sgpt_eval.reports.uncertainty import bootstrap_interval
from sgpt_eval.site.reproduce import command_line

from ..conftest import SHARED_BEIR



def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser test (.ci/run installs chromium and chromium-driver)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through selenium, with the browser's network log on."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (it is in the test extra)")
    binary = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if not (binary and driver):
        _unavailable("no Chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def site(results, tmp_path_factory) -> Path:
    """The site of the committed SciFact and USEB results, built by `sgpt-eval site` (judgements marked
    where the data is)."""
    output = tmp_path_factory.mktemp("site")
    data_dir = ["--data-dir", str(SHARED_BEIR)] if (SHARED_BEIR / "scifact").is_dir() else []
    assert main(["site", "--results-dir", str(results), "--output", str(output), *data_dir, "-q"]) == 0
    return output


def _requests(browser) -> list[str]:
    """Every URL the page asked for, from the Chrome DevTools network events in the performance log."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _agreement(browser) -> list[list[str]]:
    """The rank agreement table of the comparison shown: depth, tau-b, its queries, RBO per row."""
    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, "#cmp-agreement tr")[1:]
    return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")] for row in rows]


def test_the_site_in_a_browser(results, browser, site, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get((site / "index.html").as_uri())
    assert browser.get_log("browser") == []  # no script error, no failed load
    reports = {report.identity.digest(): (path, report) for path, report in find_reports(results)}

    # The tables: every cell of ours shows its report's number, and every BEIR report is in one.
    shown = {}
    for link in browser.find_elements(By.CSS_SELECTOR, "#table-be a[data-run], #table-ce a[data-run]"):
        report = reports[link.get_attribute("data-run")][1]
        assert link.text == f"{report.metrics['NDCG@10']:.4f}"
        shown[link.get_attribute("data-run")] = link
    assert set(shown) == {digest for digest, (_, report) in reports.items() if report.identity.benchmark == "beir"}
    [useb_link] = browser.find_elements(By.CSS_SELECTOR, "#table-useb a[data-run]")
    useb_report = reports[useb_link.get_attribute("data-run")][1]
    assert useb_link.text == f"{100 * useb_report.main_score:.2f}"
    stored = useb_report.details[PAIR_INTERVAL]  # TwitterPara's interval over pairs, x 100 as the table shows it
    interval = useb_link.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, ".interval").text
    assert interval == f"[{100 * stored['low']:.2f}, {100 * stored['high']:.2f}]"
    assert "3 of 3 baselines met" in browser.find_element(By.ID, "regression").text

    # Under a cell: its 95% interval over queries, judged@10 with the bound, and its test against BM25.
    dense = next(digest for digest, (_, report) in reports.items()
                 if report.identity.method == "dense" and report.identity.model_name == "all-MiniLM-L6-v2"
                 and report.identity.benchmark == "beir")
    report = reports[dense][1]
    interval = bootstrap_interval(list(report.per_query["NDCG@10"].values()))
    judged, bound = report.metrics["Judged@10"], report.metrics["OptimisticNDCG@10"]
    cell = shown[dense].find_element(By.XPATH, "..")
    assert cell.find_element(By.CSS_SELECTOR, ".interval").text == interval.text(3)
    assert cell.find_element(By.CSS_SELECTOR, ".judged").text == f"judged {judged:.3f} · bound {bound:.3f}"
    assert cell.find_element(By.CSS_SELECTOR, ".test").text == "≠ BM25"  # p = 0.02 after Holm over one dataset

    # A cell opens its run: the command built from its identity, the identity, its statistics, per-query NDCG@10.
    shown[dense].click()
    assert browser.find_element(By.ID, "run").is_displayed()
    assert browser.find_element(By.ID, "run-command").text == command_line(report.identity)
    assert json.loads(browser.find_element(By.ID, "run-identity").text) == report.identity.as_dict()
    statistics = browser.find_element(By.ID, "run-statistics").text
    assert f"[{interval.low:.4f}, {interval.high:.4f}]" in statistics and f"judged@10 {judged:.4f}" in statistics
    rows = browser.find_elements(By.CSS_SELECTOR, "#per-query tr")[1:]
    assert len(rows) == len(report.per_query["NDCG@10"])
    first_query = rows[0].find_element(By.TAG_NAME, "th").text
    assert rows[0].find_elements(By.TAG_NAME, "td")[0].text.endswith(f"{report.per_query['NDCG@10'][first_query]:.4f}")
    assert len(rows[0].find_elements(By.CSS_SELECTOR, ".doc")) == 10

    # Two systems side by side: BM25 against the dense run, then swapped.
    bm25 = next(digest for digest, (_, r) in reports.items() if r.identity.method == "bm25")
    Select(browser.find_element(By.ID, "cmp-dataset")).select_by_value("scifact")
    Select(browser.find_element(By.ID, "cmp-a")).select_by_value(bm25)
    Select(browser.find_element(By.ID, "cmp-b")).select_by_value(dense)
    expected = compare_scores(reports[bm25][1].per_query["NDCG@10"], report.per_query["NDCG@10"])
    summary = browser.find_element(By.ID, "cmp-table").text
    assert f"{expected.wins} / {expected.losses} / {expected.ties}" in summary
    assert f"{expected.mean_difference:+.4f}" in summary
    assert len(browser.find_elements(By.CSS_SELECTOR, "#cmp-plot circle")) == expected.queries
    drift = diff_reports(reports[bm25][0], reports[dense][0])
    assert _agreement(browser) == [[f"top {level.depth}", f"{level.kendall_tau:.4f}", str(level.tau_queries),
                                    f"{level.rbo:.4f}"] for level in drift.rank_agreement.depths]
    moved = browser.find_element(By.ID, "cmp-query-changes").text
    assert f"{drift.per_query.up} up, {drift.per_query.down} down, {drift.per_query.same} the same" in moved
    Select(browser.find_element(By.ID, "cmp-a")).select_by_value(dense)
    Select(browser.find_element(By.ID, "cmp-b")).select_by_value(bm25)
    assert f"{expected.losses} / {expected.wins} / {expected.ties}" in browser.find_element(By.ID, "cmp-table").text
    assert _agreement(browser) == [[f"top {level.depth}", f"{level.kendall_tau:.4f}", str(level.tau_queries),
                                    f"{level.rbo:.4f}"] for level in drift.rank_agreement.depths]  # symmetric
    moved = browser.find_element(By.ID, "cmp-query-changes").text
    assert f"{drift.per_query.down} up, {drift.per_query.up} down, {drift.per_query.same} the same" in moved
    assert browser.find_elements(By.CSS_SELECTOR, "#plot-size-svg circle")
    assert browser.find_elements(By.CSS_SELECTOR, "#plot-speed-svg circle")

    # Nothing was asked of anything outside the site's folder.
    requests = _requests(browser)
    assert requests and all(url.startswith(site.as_uri() + "/") for url in requests), requests
    assert browser.get_log("browser") == []
    browser.save_screenshot(str(tmp_path / "site.png"))
    assert (tmp_path / "site.png").stat().st_size > 10_000
