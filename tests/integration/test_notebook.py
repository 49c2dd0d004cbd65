"""notebooks/results.ipynb runs headless on a results folder and writes its figures."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ..synthetic_reports import write_report

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "results.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_notebook_writes_its_png_figures(tmp_path, monkeypatch):
    results, figures = tmp_path / "results", tmp_path / "figures"
    for dataset, dense, bm25 in (("scifact", 0.64, 0.68), ("nfcorpus", 0.31, 0.32)):
        write_report(results, dataset, "dense", "all-MiniLM-L6-v2", dense)
        write_report(results, dataset, "bm25", "bm25s", bm25)
    write_report(results, "scifact", "dense", "SmolLM2-135M", 0.5)
    monkeypatch.setenv("SGPT_EVAL_RESULTS", str(results))
    monkeypatch.setenv("SGPT_EVAL_FIGURES", str(figures))
    monkeypatch.setenv("MPLBACKEND", "Agg")

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    for name in ("ndcg_by_model.png", "ndcg_vs_size.png"):
        data = (figures / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, name
    table_output = "".join(str(output.get("data", {})) for output in notebook.cells[2].outputs)
    assert "all-MiniLM-L6-v2 (dense)" in table_output and "SmolLM2-135M (dense)" in table_output
