"""The habits of the command line: --version, help on every option, --threads, -q and -v, one line
for a disk or permission problem, progress bars only on a terminal, and a start without torch."""

from __future__ import annotations

import argparse
import errno
import io
import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import sgpt_eval
from sgpt_eval.cli import build_parser, main, os_error_line
from sgpt_eval.cli.options import set_threads
from sgpt_eval.progress import progress_bar

from ..beir_fixtures import write_beir
from ..command_line import error_line

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "faiss", "bm25s", "pandas")


@pytest.fixture(autouse=True)
def keep_log_level():
    """main() sets the `sgpt_eval` logger's level; give the next test the level it had."""
    logger = logging.getLogger("sgpt_eval")
    level = logger.level
    yield
    logger.setLevel(level)


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sgpt_eval.cli", *argv], cwd=REPO, capture_output=True, text=True)


def _table_argv(tmp_path: Path, *extra: str) -> list[str]:
    """`sgpt-eval table` over an empty results folder: quick, and it logs each file it writes at INFO."""
    (tmp_path / "results").mkdir(exist_ok=True)
    return ["table", "--results-dir", str(tmp_path / "results"), *extra]


def test_version_is_the_package_version():
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout == f"sgpt-eval {sgpt_eval.__version__}\n"
    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"] == sgpt_eval.__version__


def _parsers(parser: argparse.ArgumentParser, name: str = "sgpt-eval"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield from _parsers(action.choices[choice.dest], f"{name} {choice.dest}")


def test_every_option_of_every_command_has_help():
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, parser in _parsers(build_parser()) for action in parser._actions
               if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip()]
    commands = [choice for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)
                for choice in action._choices_actions]
    assert missing == [] and len(commands) == 20  # eval (alias dense) ... fuse ... regress, diff, annotate, site, paper, ...
    assert all(choice.help for choice in commands)


def test_threads_below_one_is_one_line(capsys, tmp_path):
    write_beir(tmp_path / "data" / "toy")
    code = main(["bm25", "--dataset", "toy", "--data-dir", str(tmp_path / "data"),
                 "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--threads", "0"])
    assert code == 2 and error_line(capsys.readouterr().err) == "sgpt-eval: error: --threads 0: must be at least 1"
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_threads_sets_torch_faiss_and_blas():
    import faiss
    import threadpoolctl
    import torch

    def blas_threads() -> set[int]:
        return {pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}

    before = torch.get_num_threads(), faiss.omp_get_max_threads(), threadpoolctl.threadpool_info()
    try:
        set_threads(1)
        assert (torch.get_num_threads(), faiss.omp_get_max_threads(), blas_threads()) == (1, 1, {1})
    finally:
        torch.set_num_threads(before[0])
        faiss.omp_set_num_threads(before[1])
        threadpoolctl.threadpool_limits({pool["prefix"]: pool["num_threads"] for pool in before[2]})


# main(), then a library logger set to DEBUG (as bm25s sets its own) logs at DEBUG and WARNING.
_MAIN_THEN_LIBRARY_LOGS = """
import logging, sys
from sgpt_eval.cli import main
code = main(sys.argv[1:])
library = logging.getLogger("library")
library.setLevel(logging.DEBUG)
library.debug("dropped")
library.warning("kept")
sys.exit(code)
"""


def test_quiet_logs_only_warnings(tmp_path):
    def stderr_lines(*extra: str) -> list[str]:
        argv = [sys.executable, "-c", _MAIN_THEN_LIBRARY_LOGS, *_table_argv(tmp_path), *extra]
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0 and "| dataset |" in done.stdout, done.stderr  # the result is still printed
        return done.stderr.splitlines()

    written = [f"INFO sgpt_eval: wrote {tmp_path / 'results' / 'tables' / f'beir_ndcg10.{suffix}'}"
               for suffix in ("md", "tex", "csv")]
    assert stderr_lines() == [*written, "WARNING library: kept"]
    assert stderr_lines("-q") == ["WARNING library: kept"]


def test_verbose_adds_the_traceback_of_an_error(capsys, tmp_path):
    argv = ["eval", "--dataset", "nope", "--data-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unknown dataset 'nope'" in error_line(err)
    assert main([*argv, "-v"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "SgptEvalError" in err
    assert err.strip().splitlines()[-1] == error_line(err)


def test_unwritable_output_is_one_line_with_the_path(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    code = main(_table_argv(tmp_path, "--output-dir", str(blocker / "tables")))
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err and out == ""
    assert error_line(err) == (f"sgpt-eval: error: {blocker / 'tables'}: Not a directory; "
                               "a part of the path is a file, not a folder; choose another path")


@pytest.mark.parametrize(("number", "remedy"), [
    (errno.ENOSPC, "free disk space, or point --output-dir / --cache-dir at a disk with room"),
    (errno.EACCES, "choose a folder you can write to (--output-dir, --cache-dir, --data-dir)"),
    (errno.EROFS, "choose a folder you can write to (--output-dir, --cache-dir, --data-dir)"),
])
def test_disk_and_permission_errors_say_what_to_do(number, remedy):
    exc = OSError(number, os.strerror(number), "/results/beir/x.json")
    assert os_error_line(exc) == f"/results/beir/x.json: {os.strerror(number)}; {remedy}"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _shown(**options) -> bool:
    with progress_bar(total=2, **options) as bar:
        return not bar.disable


def test_progress_bars_only_on_a_terminal_and_not_when_quiet():
    assert not _shown()  # pytest's stderr is no terminal
    assert _shown(file=_Terminal()) and not _shown(file=_Terminal(), hide=True)
    logging.getLogger("sgpt_eval").setLevel(logging.WARNING)  # what -q does
    assert not _shown(file=_Terminal())


def test_the_command_line_starts_without_heavy_libraries():
    code = ("import sys; from sgpt_eval.cli import build_parser; build_parser(); "
            f"print(' '.join(name for name in {HEAVY!r} if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "", done.stdout + done.stderr


def test_public_names_load_on_first_use():
    from sgpt_eval import SGPTBiEncoder
    from sgpt_eval.models.bi_encoder import SGPTBiEncoder as defined

    assert SGPTBiEncoder is defined and all(getattr(sgpt_eval, name) for name in sgpt_eval.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sgpt_eval.nope  # noqa: B018


def _bm25_argv(tmp_path: Path, *datasets: str) -> list[str]:
    for name in datasets:
        write_beir(tmp_path / "data" / name)
    return ["run", *(arg for name in datasets for arg in ("--dataset", name)), "--method", "bm25",
            "--data-dir", str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"),
            "--cache-dir", str(tmp_path / "cache")]


def test_sigterm_is_handled_as_ctrl_c(capsys, tmp_path, monkeypatch):
    """A scheduler's stop: one line, exit 143 (128 + SIGTERM), the finished run's report kept."""
    import signal
    import time

    from sgpt_eval.retrieval.bm25 import BM25Retriever

    retrieve = BM25Retriever.retrieve

    def stopped_on_the_second(self, dataset, timings):
        if dataset.name == "second":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here, at once
        return retrieve(self, dataset, timings)

    monkeypatch.setattr(BM25Retriever, "retrieve", stopped_on_the_second)
    assert main(_bm25_argv(tmp_path, "first", "second")) == 143
    assert capsys.readouterr().err.splitlines()[-1] == (
        "sgpt-eval: stopped (SIGTERM); finished embedding shards and re-rank scores are kept, and the next run "
        "resumes from them")
    assert [path.parts[-3] for path in (tmp_path / "out").rglob("*.json")] == ["first"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


@pytest.fixture
def full_disk(tmp_path) -> Path:
    """A folder on a small tmpfs filled to the last byte (needs root and mount; skipped elsewhere)."""
    folder = tmp_path / "full"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip() or mounted.returncode}")
    try:
        with open(folder / "filler", "wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_cache_disk_names_the_file_and_the_cause(capsys, tmp_path, full_disk):
    argv = _bm25_argv(tmp_path, "toy")
    argv[argv.index("--cache-dir") + 1] = str(full_disk / "cache")
    assert main(argv) == 2
    line = error_line(capsys.readouterr().err)
    assert line.startswith(f"sgpt-eval: error: {full_disk / 'cache'}/") and line.endswith(
        f"{os.strerror(errno.ENOSPC)}; free disk space, or point --output-dir / --cache-dir at a disk with room"), line
    assert not list((tmp_path / "out").rglob("*.json"))


def test_a_short_write_without_a_cause_is_named_by_its_file_and_the_full_disk(full_disk):
    """numpy reports a short write as '38400 requested and 14304 written', with no errno."""
    import numpy as np

    from sgpt_eval.storage import save_array

    with pytest.raises(OSError) as caught:
        save_array(full_disk / "shard.npy", np.zeros((100, 96), dtype=np.float32))
    assert caught.value.filename == str(full_disk / "shard.npy") and caught.value.errno == errno.ENOSPC
    assert os_error_line(caught.value).startswith(f"{full_disk / 'shard.npy'}: ")
    assert sorted(path.name for path in full_disk.iterdir()) == ["filler"]


def test_a_report_that_cannot_be_written_leaves_no_ranking_behind(capsys, tmp_path, monkeypatch):
    from sgpt_eval.reports import schema

    def no_room(path, payload):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(schema, "write_json", no_room)
    assert main(_bm25_argv(tmp_path, "toy")) == 2
    assert os.strerror(errno.ENOSPC) in error_line(capsys.readouterr().err)
    assert [path for path in (tmp_path / "out").rglob("*") if path.is_file()] == []
