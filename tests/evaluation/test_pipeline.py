import json

import pytest

from sgpt_eval.cli import evaluate as cli_evaluate, main
from sgpt_eval.cli.evaluate import run_specs
from sgpt_eval.data import beir
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation import metrics, pipeline
from sgpt_eval.evaluation.rankings import first_stage_file
from sgpt_eval.evaluation.specs import RunOptions, RunSpec, read_config
from sgpt_eval.reports.tables import build_table
from sgpt_eval.retrieval.ranking import write_trec

from ..beir_fixtures import write_beir
from ..command_line import parse


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
    with pytest.raises(SgptEvalError, match="runs #1: template not options of dense"):
        read_config(_config(tmp_path, f'datasets = ["toy"]\n[[runs]]\nmodel = "{tiny_gpt_neo}"\ntemplate = "x"\n'))


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
    first = [outcome.path for outcome in pipeline.run_all(specs, tmp_path / "data", out, tmp_path / "cache")]
    assert all(path.is_file() for path in first) and first[0].parent.name == "bm25"
    stamps = [path.stat().st_mtime_ns for path in first]
    monkeypatch.setattr(pipeline, "write_report", lambda *a, **k: pytest.fail("a finished run ran again"))
    again = pipeline.run_all(specs, tmp_path / "data", out, tmp_path / "cache")
    assert [outcome.path for outcome in again] == first and all(outcome.skipped for outcome in again)
    assert [path.stat().st_mtime_ns for path in first] == stamps


def test_two_configurations_and_two_splits_get_their_own_reports(tmp_path, tiny_gpt_neo, capsys):
    """Ablations never overwrite each other: each setting that changes the numbers is a new report,
    the table shows every configuration labelled by what differs, and `run` skips only what it has."""
    data = tmp_path / "data"
    write_beir(data / "toy")
    write_beir(data / "toy", split="dev")
    common = ["--data-dir", str(data), "--output-dir", str(tmp_path / "results"), "--cache-dir", str(tmp_path / "cache")]
    dense = ["eval", "--dataset", "toy", "--model", str(tiny_gpt_neo), "--device", "cpu", *common]
    assert main([*dense, "--max-length", "16"]) == 0
    assert main([*dense, "--max-length", "32"]) == 0
    assert main([*dense, "--max-length", "32", "--split", "dev"]) == 0
    reports = sorted((tmp_path / "results" / "beir" / "toy" / "dense").glob("*.json"))
    assert len(reports) == 3
    identities = [json.loads(path.read_text())["identity"] for path in reports]
    assert sorted((i["split"], i["model"]["max_length"]) for i in identities) == [("dev", 32), ("test", 16), ("test", 32)]

    table = build_table(tmp_path / "results")
    columns = [name for name in table.columns if not name.startswith(("published", "Δ"))]
    assert len(columns) == 3 and any("max_length=16" in name for name in columns)
    assert any("max_length=32" in name and "split=dev" in name for name in columns)
    capsys.readouterr()

    config = _config(tmp_path, f'datasets = ["toy"]\n[[runs]]\nmodel = "{tiny_gpt_neo}"\ndevice = "cpu"\nmax_length = 32\n')
    assert main(["run", "--config", str(config), *common]) == 0
    assert "(already measured)" in capsys.readouterr().out
    changed = _config(tmp_path, f'datasets = ["toy"]\n[[runs]]\nmodel = "{tiny_gpt_neo}"\ndevice = "cpu"\nmax_length = 24\n')
    assert main(["run", "--config", str(changed), *common]) == 0
    assert "(already measured)" not in capsys.readouterr().out
    assert len(list((tmp_path / "results" / "beir" / "toy" / "dense").glob("*.json"))) == 4


def test_judged_queries_a_ranking_lacks_count_as_zero_with_one_warning(tmp_path, caplog):
    """A fusion of two files that both lack q3: 3 per-query entries, q3 at 0, NDCG@10 over all 3."""
    write_beir(tmp_path / "data" / "toy")
    inputs = []
    for name, ranking in (("a", {"q1": {"d1": 2.0, "d3": 1.0}, "q2": {"d2": 1.0}}), ("b", {"q1": {"d1": 1.0}})):
        inputs.append(tmp_path / f"{name}.trec")
        write_trec(inputs[-1], ranking, name)
    spec = RunSpec("toy", "fusion", None, RunOptions(inputs=tuple(map(str, inputs))))
    report = pipeline.evaluate(spec, tmp_path / "data", tmp_path / "out", pipeline.Models(tmp_path / "cache")).report
    assert report.per_query["NDCG@10"] == {"q1": 1.0, "q2": 1.0, "q3": 0.0} and report.details["queries"] == 3
    assert report.metrics["NDCG@10"] == round(2 / 3, 5)
    # Judged@10 stored with it, per query and as the run mean: q1 ranks d1 (judged) and d3, q2 d2, q3 nothing.
    assert report.per_query["Judged@10"] == {"q1": 0.1, "q2": 0.1, "q3": 0.0} and report.metrics["Judged@10"] == 0.06667
    assert report.per_query["OptimisticNDCG@10"] == {"q1": 1.0, "q2": 1.0, "q3": 0.0}
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == [f"{inputs[0]}: 1 of the 3 judged queries are not in this fusion input; it adds nothing to "
                        "their fused ranking",
                        f"{inputs[1]}: 2 of the 3 judged queries are not in this fusion input; it adds nothing to "
                        "their fused ranking",
                        "toy: 1 of the 3 judged queries have no document in the fusion ranking; each scores 0, "
                        "and every metric averages over all 3"]


class _Unchanged:
    """A re-ranker that keeps its candidates' scores, to see how the first stage is scored."""

    top_k = 10

    def rerank(self, dataset, candidates, timings):
        return candidates, {}


def test_the_first_stage_of_a_rerank_counts_every_judged_query(tmp_path, caplog):
    files = write_beir(tmp_path / "toy")
    dataset = beir.read(beir.locate(str(files), tmp_path, "test"))
    first = tmp_path / "first.trec"
    write_trec(first, {"q1": {"d1": 1.0}}, "es")  # q2 and q3 judged, not ranked
    stages = pipeline.Stages(first_stage_file(str(first), "toy", "test"), _Unchanged())
    ranking, details = pipeline.run_stages(stages, dataset, {})
    assert details["first_stage"]["NDCG@10"] == round(1 / 3, 5) == metrics.evaluate(dataset.qrels, ranking)["NDCG@10"]
    assert caplog.text.count(f"toy: 2 of the 3 judged queries have no document in {first}; each scores 0") == 1


def test_run_takes_the_run_options_eval_takes_each_where_its_method_takes_it(tmp_path, tiny_gpt_neo):
    config = _config(tmp_path, f'datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\n[[runs]]\nmethod = "dense"\n'
                               f'model = "{tiny_gpt_neo}"\n[[runs]]\nmethod = "rerank"\nmodel = "{tiny_gpt_neo}"\n')
    given = ["--top-k", "7", "--k1", "0.9", "--b", "0.5", "--shard-size", "64", "--store-dtype", "float16",
             "--score-function", "dot", "--first-stage", "first.trec", "--no-cache"]
    bm25, dense, rerank = (spec.run for spec in run_specs(parse(cli_evaluate, "run", "--config", str(config), *given)))
    assert (bm25.top_k, bm25.k1, bm25.b, bm25.shard_size, bm25.store_dtype, bm25.use_cache) == (
        7, 0.9, 0.5, RunOptions.shard_size, "float32", False)
    assert (dense.top_k, dense.k1, dense.shard_size, dense.store_dtype, dense.score_function) == (
        7, RunOptions.k1, 64, "float16", "dot")
    assert (rerank.top_k, rerank.k1, rerank.first_stage, rerank.score_function) == (7, 0.9, "first.trec", "cos_sim")


def test_run_without_a_config_runs_with_the_options_given(tmp_path, capsys):
    write_beir(tmp_path / "data" / "toy")
    code = main(["run", "--dataset", "toy", "--method", "bm25", "--top-k", "2", "--k1", "0.9", "--data-dir",
                 str(tmp_path / "data"), "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    [report] = (tmp_path / "out").rglob("*.json")
    settings = json.loads(report.read_text())["identity"]["settings"]
    assert (settings["top_k"], settings["bm25"]["k1"]) == (2, 0.9)


def test_an_option_run_does_not_know_shows_runs_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["run", "--dataset", "toy", "--method", "bm25", "--pooling", "mean", "--output-dir", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and err.startswith("usage: sgpt-eval run [-h]")
    assert err.splitlines()[-1] == "sgpt-eval run: error: unrecognized arguments: --pooling mean"
    assert not (tmp_path / "o").exists()
