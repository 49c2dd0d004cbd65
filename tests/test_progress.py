"""Progress bars: shown on a terminal, never under -q, never where stderr is not a terminal, and
never where the caller hides them."""

from __future__ import annotations

import io
import sys
import logging

import pytest

from sgpt_eval.progress import progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def level():
    logger = logging.getLogger("sgpt_eval")
    before = logger.level
    yield logger.setLevel
    logger.setLevel(before)


def test_a_bar_is_drawn_on_a_terminal_and_yields_every_item(level):
    level(logging.INFO)
    screen = Terminal()
    assert list(progress_bar(range(3), desc="encoding", file=screen)) == [0, 1, 2]
    assert "encoding" in screen.getvalue() and "3/3" in screen.getvalue()


@pytest.mark.parametrize("quiet, hide, stream", [(True, False, Terminal), (False, True, Terminal),
                                                 (False, False, io.StringIO)])
def test_no_bar_when_quiet_hidden_or_not_on_a_terminal(quiet, hide, stream, level):
    level(logging.WARNING if quiet else logging.INFO)
    screen = stream()
    bar = progress_bar(total=5, hide=hide, file=screen)
    bar.update(5)
    bar.close()
    assert bar.disable and screen.getvalue() == ""


@pytest.mark.parametrize("quiet, stream, shown", [(False, Terminal, True), (True, Terminal, False),
                                                  (False, io.StringIO, False)])
def test_transformers_bars_loading_weights_follow_the_same_rule(quiet, stream, shown, level, tiny_gpt_neo, monkeypatch):
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    from sgpt_eval.models.store import load_pretrained

    level(logging.WARNING if quiet else logging.INFO)
    screen = stream()
    monkeypatch.setattr(sys, "stderr", screen)
    load_pretrained(AutoModel, tiny_gpt_neo, "tiny", "float32", trust_remote_code=False)
    assert ("Loading weights" in screen.getvalue()) == shown
    assert transformers_logging.is_progress_bar_enabled()  # set back for whatever runs next
