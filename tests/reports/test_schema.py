"""Report provenance: the harness commit and the data folder are recorded beside the identity,
never in it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sgpt_eval.reports import schema

from ..beir_fixtures import write_beir
from ..command_line import run_command
from ..synthetic_reports import only_report


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(Path(schema.__file__).parent), *args], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def test_report_records_the_harness_commit_and_the_data_folder_outside_the_identity(tmp_path, capsys, monkeypatch):
    write_beir(tmp_path / "data" / "toy")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SGPT_EVAL_CACHE", str(tmp_path / "cache"))
    schema.harness_git.cache_clear()

    code, out, _ = run_command(capsys, "bm25", "--dataset", "toy", "--data-dir", "data", "--output-dir", "out")

    assert code == 0
    report = only_report(tmp_path / "out")
    assert report["data_dir"] == str((tmp_path / "data").resolve())
    commit = _git("rev-parse", "HEAD")
    if commit is None:  # not run from a checkout
        assert report["harness_git"] is None
    else:
        assert report["harness_git"] == {"commit": commit, "dirty": bool(_git("status", "--porcelain", "-uno"))}
    assert not {"harness_git", "data_dir"} & set(report["identity"])
    assert out.strip().endswith(f".{schema.Identity(**report['identity']).digest()}.json")

    schema.harness_git.cache_clear()
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert schema.harness_git() is None  # git missing: nothing recorded, nothing fails
    schema.harness_git.cache_clear()
