"""The package's layers, read from its imports: no module imports one of a higher layer.

From the ground up: the small shared modules (and the package's face), data, models, executors, retrieval, then `caches`
and `mteb` (which read models and retrieval), reports, evaluation, the results site, the command line. Every import
counts, those inside functions and for type checking too: each is an arrow of the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sgpt_eval"
LAYERS = {
    **dict.fromkeys(("errors", "storage", "folders", "progress", "timing", "checks"), 0),
    "data": 1, "models": 2, "executors": 3, "retrieval": 4, "caches": 5, "mteb": 5, "reports": 6, "evaluation": 7,
    "site": 8, "cli": 9, "__init__": 0,  # the package's face: its public names load on first use
}


def imported(text: str, module: tuple[str, ...]) -> list[tuple[int, tuple[str, ...]]]:
    """(line, module path inside the package) of each import in `text`, the code of `module`
    (e.g. ("sgpt_eval", "data", "beir")), of a module of this package."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = module[: len(module) - node.level]
            names = [(*base, *node.module.split("."))] if node.module else [(*base, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [tuple((node.module or "").split("."))]
        elif isinstance(node, ast.Import):
            names = [tuple(alias.name.split(".")) for alias in node.names]
        else:
            continue
        found += [(node.lineno, name[1:]) for name in names if name[0] == "sgpt_eval" and len(name) > 1]
    return found


def test_every_module_has_a_layer():
    top = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.rglob("*.py")}
    assert top - {"__main__"} <= set(LAYERS), f"give {sorted(top - set(LAYERS))} a layer"


def test_no_import_reaches_a_higher_layer():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        for line, target in imported(path.read_text(encoding="utf-8"), ("sgpt_eval", *parts)):
            if LAYERS.get(target[0], LAYERS["__init__"]) > LAYERS[parts[0]]:  # else a name of the package's face
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports sgpt_eval.{'.'.join(target)}")
    assert not upward, "\n".join(upward)


def test_relative_absolute_and_nested_imports_are_all_read():
    text = "from ..models import store\nimport sgpt_eval.cli\ndef f():\n    from . import corpus\n    import numpy\n"
    assert imported(text, ("sgpt_eval", "data", "beir")) == [(1, ("models",)), (2, ("cli",)), (4, ("data", "corpus"))]
