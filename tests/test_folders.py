"""Where things live: the option, else the environment variable, else the default; and a folder
that cannot be written is found before any work, leaving nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgpt_eval import folders
from sgpt_eval.errors import SgptEvalError


@pytest.mark.parametrize("resolve, env, default", [
    (folders.beir_dir, folders.BEIR_DIR_ENV, Path("datasets")),
    (folders.useb_dir, folders.USEB_DIR_ENV, Path("data-eval")),
    (folders.cache_dir, folders.CACHE_ENV, Path.home() / ".cache" / "sgpt_eval"),
])
def test_the_option_then_the_environment_then_the_default(resolve, env, default, monkeypatch, tmp_path):
    monkeypatch.delenv(env, raising=False)
    assert resolve() == default
    monkeypatch.setenv(env, str(tmp_path / "from-env"))
    assert resolve() == tmp_path / "from-env"
    assert resolve(tmp_path / "given") == tmp_path / "given" and resolve("given") == Path("given")
    monkeypatch.setenv(env, "")
    assert resolve() == default  # an empty variable is no setting


def test_results_have_no_environment_variable():
    assert folders.results_dir() == Path("results") and folders.results_dir("out") == Path("out")


def test_a_writable_folder_is_probed_and_left_as_it_was(tmp_path):
    folders.check_writable(tmp_path / "a" / "b", "hint")
    assert list(tmp_path.iterdir()) == []  # the folders made for the probe are gone again
    (tmp_path / "kept").mkdir()
    folders.check_writable(tmp_path / "kept", "hint")
    assert (tmp_path / "kept").is_dir() and list((tmp_path / "kept").iterdir()) == []


def test_a_folder_that_cannot_be_made_is_one_error_naming_it_and_the_hint(tmp_path):
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(SgptEvalError, match=rf"^{tmp_path / 'file' / 'out'}: cannot create or write this folder "
                                            r"\(.+\); choose another --output-dir$"):
        folders.check_writable(tmp_path / "file" / "out", "choose another --output-dir")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]
