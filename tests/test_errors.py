"""The user's errors: SgptEvalError (and Unavailable, one of them) end a command in one line and
exit code 2; any other exception is a bug and keeps its traceback."""

from __future__ import annotations

import pytest

from sgpt_eval.cli import models as cli_models
from sgpt_eval.errors import SgptEvalError, Unavailable

from .command_line import error_line, run_command


def _failing(monkeypatch, exc: Exception) -> None:
    def handler(args, cache_dir):
        raise exc
    monkeypatch.setattr(cli_models, "_models", handler)  # `sgpt-eval models` now fails so


@pytest.mark.parametrize("exc", [SgptEvalError("dataset x: not here; download it"),
                                 Unavailable("dataset x: not here; download it")])
def test_a_user_error_is_its_message_on_one_line(exc, monkeypatch, capsys, tmp_path):
    _failing(monkeypatch, exc)
    code, out, err = run_command(capsys, "models", "--cache-dir", str(tmp_path))
    assert (code, out, err) == (2, "", "sgpt-eval: error: dataset x: not here; download it\n")

    code, _, err = run_command(capsys, "models", "--cache-dir", str(tmp_path), "-v")
    assert code == 2 and err.startswith("Traceback") and type(exc).__name__ in err
    assert error_line(err) == "sgpt-eval: error: dataset x: not here; download it"


def test_unavailable_is_a_user_error_that_a_batch_may_skip():
    with pytest.raises(SgptEvalError, match="^model m: not on the hub$"):
        raise Unavailable("model m: not on the hub")
    assert not issubclass(SgptEvalError, Unavailable)  # a typo is not skipped as unavailable


def test_any_other_exception_is_a_bug_and_is_not_turned_into_a_line(monkeypatch, capsys, tmp_path):
    _failing(monkeypatch, KeyError("internal"))
    with pytest.raises(KeyError, match="internal"):
        run_command(capsys, "models", "--cache-dir", str(tmp_path))
