"""The repository stays small enough to clone quickly, committed results and site included."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from .conftest import REPO

TRACKED_LIMIT = 55_000_000  # bytes of every tracked file together


def test_the_tracked_tree_stays_under_55_mb():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    files = [REPO / name for name in listed.decode().split("\0") if name]
    total = sum(path.stat().st_size for path in files if path.is_file())
    assert total < TRACKED_LIMIT, f"tracked files hold {total:,} bytes; the limit is {TRACKED_LIMIT:,}"
