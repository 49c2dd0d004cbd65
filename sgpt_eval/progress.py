"""Every progress bar is made here, so one rule holds for all of them: none when the `sgpt_eval`
logger is set above INFO (`sgpt-eval -q`), and none when stderr is not a terminal, so that logs
and CI output get no escape codes (tqdm's `disable=None`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any


def progress_bar(iterable: Iterable | None = None, *, hide: bool = False, **options: Any):
    """A tqdm bar over `iterable` (or updated by hand with `total=`); `hide` hides it for this call."""
    from tqdm.auto import tqdm  # not at import time: the command line starts without it

    quiet = logging.getLogger("sgpt_eval").level > logging.INFO
    return tqdm(iterable, disable=True if hide or quiet else None, **options)
