"""`python -m sgpt_eval.cli`: the `sgpt-eval` command itself, exit code included."""

from __future__ import annotations

import runpy
import subprocess
import sys

import pytest

from sgpt_eval import __version__


def test_the_module_runs_as_the_command(tmp_path):
    version = subprocess.run([sys.executable, "-m", "sgpt_eval.cli", "--version"], capture_output=True, text=True)
    assert (version.returncode, version.stdout.strip()) == (0, f"sgpt-eval {__version__}")

    failed = subprocess.run([sys.executable, "-m", "sgpt_eval.cli", "cache", "prune", "--data-dir",
                             str(tmp_path / "missing"), "--cache-dir", str(tmp_path / "cache")],
                            capture_output=True, text=True)
    assert failed.returncode == 2 and not failed.stdout
    missing = tmp_path / "missing"
    assert failed.stderr.splitlines()[-1].startswith(f"sgpt-eval: error: --data-dir {missing}: not a folder")


def test_main_s_exit_code_is_the_process_s(tmp_path, monkeypatch, capsys):
    for argv, code in ((["models"], 0), (["cache", "prune", "--data-dir", str(tmp_path / "missing")], 2)):
        monkeypatch.setattr(sys, "argv", ["sgpt-eval", *argv, "--cache-dir", str(tmp_path)])
        with pytest.raises(SystemExit) as exited:
            runpy.run_module("sgpt_eval.cli", run_name="__main__")
        assert exited.value.code == code
    out, err = capsys.readouterr()
    assert "SGPT-125M-weightedmean-msmarco-specb-bitfit" in out and "sgpt-eval: error: --data-dir" in err
