import shutil
from pathlib import Path

import pytest

from ..conftest import REPO


@pytest.fixture(scope="session")
def results(tmp_path_factory) -> Path:
    """The committed results of SciFact and USEB alone, with their baselines: what these tests'
    figures are about (the runs each table links, which differ from BM25), and a site that builds
    in seconds. The committed site itself is checked against all of results/."""
    folder = tmp_path_factory.mktemp("results")
    for part in ("beir/scifact", "useb", "baselines"):
        shutil.copytree(REPO / "results" / part, folder / part)
    return folder
