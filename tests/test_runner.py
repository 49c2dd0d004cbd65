import pytest

from sgpt_eval.errors import SgptEvalError
from sgpt_eval.runner import read_config, run_all

from .beir_fixtures import write_beir


def _config(tmp_path, text):
    path = tmp_path / "runs.toml"
    path.write_text(text)
    return path


def test_config_expands_datasets_and_checks_option_names(tmp_path, tiny_gpt_neo):
    specs = read_config(_config(tmp_path, f'''
datasets = ["toy", "cqadupstack"]
[[runs]]
method = "bm25"
[[runs]]
method = "dense"
model = "{tiny_gpt_neo}"
datasets = ["toy"]
'''))
    assert [(s.dataset, s.method) for s in specs][:2] == [("toy", "bm25"), ("cqadupstack/android", "bm25")]
    assert len(specs) == 14 and specs[-1].method == "dense"
    with pytest.raises(SgptEvalError, match=r"runs\.toml, runs #1: poolng not options of dense"):
        read_config(_config(tmp_path, 'datasets = ["toy"]\n[[runs]]\nmethod = "dense"\npoolng = "mean"\n'))
    with pytest.raises(SgptEvalError, match="method 'sparse' is not one of"):
        read_config(_config(tmp_path, 'datasets = ["toy"]\n[[runs]]\nmethod = "sparse"\n'))


def test_finished_runs_are_skipped(tmp_path, tiny_gpt_neo, monkeypatch):
    write_beir(tmp_path / "data" / "toy")
    specs = read_config(_config(tmp_path, f'''
datasets = ["toy"]
[[runs]]
method = "bm25"
top_k = 2
[[runs]]
method = "dense"
model = "{tiny_gpt_neo}"
device = "cpu"
'''))
    out = tmp_path / "out"
    first = run_all(specs, tmp_path / "data", out, tmp_path / "cache")
    assert all(path.is_file() for path in first) and first[0].parent.name == "bm25"
    stamps = [path.stat().st_mtime_ns for path in first]
    monkeypatch.setattr("sgpt_eval.runner.run_dense", lambda *a, **k: pytest.fail("a finished run ran again"))
    assert run_all(specs, tmp_path / "data", out, tmp_path / "cache") == first
    assert [path.stat().st_mtime_ns for path in first] == stamps
