"""Run specs from TOML and the command line: every value typed and checked before anything runs,
one identity per configuration however it is written, and the command line over the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgpt_eval.cli import build_parser
from sgpt_eval.cli.evaluate import run_specs
from sgpt_eval.errors import SgptEvalError
from sgpt_eval.evaluation.pipeline import Models, prepare
from sgpt_eval.evaluation.specs import RunOptions, RunSpec, read_config
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.presets import PRESETS

from ..beir_fixtures import write_beir


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "runs.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, problem", [
    ('datasets = ["toy"]\n[[runs]]\nmodel = "m"\nspecb = "no"\n', "runs #1: --specb 'no': expected true or false"),
    ('datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\nk1 = "1.2"\n', "runs #1: --k1 '1.2': expected a number"),
    ('datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\n[[runs]]\nmodel = 5\n', "runs #2: --model 5: expected a string"),
    ('datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\ntop_k = 2.5\n', "runs #1: --top-k 2.5: expected a whole number"),
    ('datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\nsplit = 1\n', "runs #1: --split 1: expected a string"),
    ('datasets = ["toy"]\n[[runs]]\nmodel = "m"\ndtype = "fp8"\n',
     "runs #1: --dtype fp8: choose from auto, float32, float16, bfloat16"),
    ('datasets = ["toy"]\n[[runs]]\nmethod = 3\n', "runs #1: method = 3: expected one of dense, bm25, rerank, fusion"),
    ('datasets = ["toy"]\nruns = 5\n', "runs = 5: expected [[runs]] tables"),
    ('datasets = "base"\n[[runs]]\nmethod = "bm25"\n', "datasets = 'base': expected a list of dataset names, e.g. [\"scifact\"]"),
    ('[[runs]]\nmethod = "bm25"\ndatasets = ["toy", 2]\n',
     "runs #1: datasets = ['toy', 2]: expected a list of dataset names, e.g. [\"scifact\"]"),
    ('dataset = ["toy"]\n[[runs]]\nmethod = "bm25"\n', "dataset: not keys of a run configuration (those are: datasets, runs, useb)"),
])
def test_a_value_of_the_wrong_type_is_one_line_naming_file_run_and_key(tmp_path, text, problem):
    path = _config(tmp_path, text)
    with pytest.raises(SgptEvalError) as caught:
        read_config(path)
    assert str(caught.value) in (f"{path}, {problem}", f"{path}: {problem}")


def test_numbers_are_kept_by_value_and_lists_as_tuples():
    assert RunOptions(k1=1).k1 == 1.0 and isinstance(RunOptions(k1=1).k1, float)
    assert RunOptions(k1=1) == RunOptions(k1=1.0)
    assert RunOptions(inputs=["a.json", Path("b.trec")]).inputs == ("a.json", "b.trec")
    assert RunOptions(fusion="weighted", inputs=("a", "b"), weights=[0.3, 0.7]).fusion_weights() == (0.3, 0.7)
    with pytest.raises(SgptEvalError, match=r"^--top-k True: expected a whole number$"):
        RunOptions(top_k=True)


def test_a_preset_however_typed_is_recorded_as_the_preset_spells_it(tmp_path):
    preset = PRESETS["SGPT-125M-weightedmean-msmarco-specb-bitfit"]
    for typed in (preset.name.lower(), preset.name.upper(), preset.hub_id, preset.hub_id.lower()):
        assert ModelOptions(typed).model == preset.name
    folder = tmp_path / preset.name.lower()
    folder.mkdir()
    assert ModelOptions(str(folder)).model == str(folder)  # a folder on disk is what was given
    assert ModelOptions("someone/else").model == "someone/else"


def test_k1_in_a_config_and_on_the_command_line_is_one_identity(tmp_path):
    data_dir = write_beir(tmp_path / "data" / "toy").parent
    from_config = read_config(_config(tmp_path, 'datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\nk1 = 1\n'))[0]
    from_flag = RunSpec("toy", "bm25", None, RunOptions(k1=1.0))
    models = Models(tmp_path / "cache")
    assert prepare(from_config, data_dir, models).identity == prepare(from_flag, data_dir, models).identity


def test_a_subset_that_selects_every_judged_query_is_no_subset(tmp_path):
    """The toy split has 3 judged queries: the first 1000 of them are all of them."""
    data_dir = write_beir(tmp_path / "data" / "toy").parent
    models = Models(tmp_path / "cache")
    every, thousand, two = (prepare(RunSpec("toy", "bm25", None, RunOptions(max_queries=count)), data_dir, models)
                            for count in (None, 1000, 2))
    assert thousand.identity == every.identity and thousand.identity.label() == "bm25s"
    assert two.identity.settings["max_queries"] == 2 and two.identity.label() == "bm25s-first2q"


def test_the_command_line_overrides_a_config_even_with_default_values(tmp_path):
    config = _config(tmp_path, 'datasets = ["toy"]\n[[runs]]\nmethod = "bm25"\nmax_queries = 2\nsplit = "dev"\n'
                               '[[runs]]\nmodel = "m"\nexecutor = "ray"\nuse_cache = false\n')

    def specs(*flags: str) -> list[RunSpec]:
        return run_specs(build_parser().parse_args(["run", "--config", str(config), *flags]))

    bm25, dense = specs()
    assert (bm25.run.max_queries, bm25.run.split, dense.run.executor, dense.run.use_cache) == (2, "dev", "ray", False)
    bm25, dense = specs("--executor", "local", "--max-queries", "5", "--split", "test")
    assert (bm25.run.max_queries, bm25.run.split) == (5, "test")
    assert dense.run.executor == "local" and not dense.run.use_cache  # local is the default, given: it wins
