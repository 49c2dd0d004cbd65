"""Every progress bar is made here, so one rule holds for all of them: none when the `sgpt_eval`
logger is set above INFO (`sgpt-eval -q`), and none when stderr is not a terminal, so that logs
and CI output get no escape codes (tqdm's `disable=None`). The bars transformers and the hub
draw themselves (loading weights, downloads) follow the same rule through `library_bars`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


def _quiet() -> bool:
    return logging.getLogger("sgpt_eval").level > logging.INFO


def progress_bar(iterable: Iterable | None = None, *, hide: bool = False, **options: Any):
    """A tqdm bar over `iterable` (or updated by hand with `total=`); `hide` hides it for this call."""
    from tqdm.auto import tqdm  # not at import time: the command line starts without it

    return tqdm(iterable, disable=True if hide or _quiet() else None, **options)


@contextmanager
def library_bars() -> Iterator[None]:
    """transformers' and the hub's own bars (which draw wherever stderr goes) hidden for the body
    unless ours would show, then set back as they were."""
    from transformers.utils import logging as transformers_logging

    hide = _quiet() or not sys.stderr.isatty()
    before = transformers_logging.is_progress_bar_enabled()
    if hide and before:
        transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if hide and before:
            transformers_logging.enable_progress_bar()
