"""The site as files: the page, its style and script (shipped in `assets/`, the same for every
build) and `data.js`, the site's data as one script. A script tag, not fetch(), loads the data:
a browser refuses fetch() of local files, and the site must open from disk with no server."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from ..storage import atomic_open

ASSETS = resources.files(__package__) / "assets"
PAGES = ("index.html", "site.css", "site.js")
DATA_SCRIPT = "data.js"


def data_script(data: dict) -> str:
    """The data as a script that sets `window.SITE_DATA`; strict JSON (a NaN is refused here)."""
    return "window.SITE_DATA = " + json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + ";\n"


def write_site(data: dict, output_dir: Path) -> list[Path]:
    """Write the site into `output_dir`, each file atomically; other files there are left alone."""
    written = []
    for name in PAGES:
        written.append(_write(Path(output_dir) / name, (ASSETS / name).read_text(encoding="utf-8")))
    written.append(_write(Path(output_dir) / DATA_SCRIPT, data_script(data)))
    return written


def _write(path: Path, text: str) -> Path:
    with atomic_open(path) as handle:
        handle.write(text)
    return path
