"""The command a site shows for a cell: built from the run's identity, it must resolve, through the
real parser and the pipeline's own resolution, back to that identity."""

from __future__ import annotations

import shlex

import pytest

from sgpt_eval.cli import build_parser
from sgpt_eval.cli.evaluate import single_method_specs
from sgpt_eval.cli.options import values_of
from sgpt_eval.errors import SgptEvalError, Unavailable
from sgpt_eval.evaluation.pipeline import Models, prepare
from sgpt_eval.evaluation.specs import MODEL_FIELDS
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.prompts import TEMPLATES
from sgpt_eval.models.resolution import resolve_model
from sgpt_eval.reports.schema import Identity, find_reports
from sgpt_eval.site.reproduce import COMMANDS, command_arguments, command_line

from ..conftest import REPO, _cache_dir

RESULTS = REPO / "results"
METHOD_OF = {command: method for method, command in COMMANDS.items()}
BM25 = {"k1": 1.5, "b": 0.75, "method": "lucene", "stemmer": "english", "stopwords": "en"}
HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _specs(identity: Identity):
    argv = command_arguments(identity)
    return single_method_specs(METHOD_OF[argv[0]], build_parser().parse_args(argv))


def _comparable(identity: Identity, recorded: Identity) -> dict:
    """`identity` less the model revision where the `recorded` one is of the older fingerprint scheme
    ("local-..."), which no resolution gives today; a hub commit or a "sha256-" fingerprint must match."""
    values = identity.as_dict()
    if recorded.model and recorded.model["revision"].startswith("local-"):
        values["model"] = {key: value for key, value in values["model"].items() if key != "revision"}
    return values


def test_each_committed_beir_report_is_reproduced_by_its_command(scifact_dir):
    models = Models(_cache_dir())
    checked = 0
    for path, report in find_reports(RESULTS, "beir"):
        [spec] = _specs(report.identity)
        try:
            resolved = prepare(spec, scifact_dir, models).identity
        except Unavailable as exc:
            pytest.skip(f"{exc} (run `make models`)")
        assert _comparable(resolved, report.identity) == _comparable(report.identity, report.identity), path
        checked += 1
    assert checked >= 3


def test_the_useb_command_resolves_to_the_reports_model_settings():
    [(path, report)] = find_reports(RESULTS, "useb")
    argv = command_arguments(report.identity)
    args = build_parser().parse_args(argv)
    assert (args.datasets, args.split) == ([report.identity.dataset], report.identity.split)
    options = ModelOptions(**values_of(args, ModelOptions, MODEL_FIELDS["dense"]))
    try:
        settings = resolve_model(options, "bi", _cache_dir(), weights=False).settings.as_dict()
    except Unavailable as exc:
        pytest.skip(f"{exc} (run `make models`)")
    expected = dict(report.identity.model)
    assert settings.pop("revision") == expected.pop("revision")
    assert settings == expected


def test_every_identity_setting_becomes_an_option_the_parser_reads_back():
    dense = Identity("beir", "scifact", "dev", {}, "dense", {
        "model": "org/model", "revision": HUB_COMMIT, "pooling": "lasttoken", "specb": False, "max_length": 128,
        "dtype": "bfloat16", "normalize": True, "dense_layers": 0, "query_template": "Query: {text}",
        "instruction": "Find the claim's evidence", "append_eos": True, "bidirectional": True,
    }, {"top_k": 50, "score_function": "dot", "max_queries": 7, "store_dtype": "float16"})
    [spec] = _specs(dense)
    assert spec.dataset == "scifact" and spec.run.split == "dev"
    assert (spec.run.top_k, spec.run.score_function, spec.run.max_queries, spec.run.store_dtype) == (50, "dot", 7, "float16")
    model = spec.model
    assert (model.model, model.revision, model.pooling, model.specb, model.max_length, model.dtype) == (
        "org/model", HUB_COMMIT, "lasttoken", False, 128, "bfloat16")
    assert (model.query_template, model.instruction, model.append_eos, model.bidirectional) == (
        "Query: {text}", "Find the claim's evidence", True, True)


def test_bm25_and_rerank_settings_round_trip_and_named_templates_read_as_their_name():
    bm25 = Identity("beir", "nfcorpus", "test", {}, "bm25", None,
                    {"top_k": 100, "bm25": {**BM25, "k1": 0.9, "b": 0.4}, "max_queries": None})
    [spec] = _specs(bm25)
    assert (spec.run.k1, spec.run.b, spec.run.top_k, spec.run.max_queries) == (0.9, 0.4, 100, None)
    rerank = Identity("beir", "scifact", "test", {}, "rerank", {
        "model": "SmolLM2-135M", "revision": "sha256-0000", "template": TEMPLATES["symmetric"], "max_length": 512,
        "dtype": "float16", "aggregate": "mean", "vocabulary_projection": "float32",
    }, {"top_k": 20, "first_stage": {"kind": "bm25", "top_k": 20, "bm25": BM25}, "max_queries": None})
    assert "--template symmetric" in command_line(rerank) and "--revision" not in command_line(rerank)
    [spec] = _specs(rerank)
    assert (spec.model.template, spec.model.max_length, spec.model.dtype, spec.model.aggregate) == (
        "symmetric", 512, "float16", "mean")
    assert spec.run.top_k == 20 and spec.run.first_stage == "bm25"


def test_a_custom_template_is_quoted_for_the_shell():
    rerank = Identity("beir", "scifact", "test", {}, "rerank", {
        "model": "m", "revision": "x", "template": 'Doc "{doc}" it\'s', "max_length": 64, "dtype": "float32",
    }, {"top_k": 5, "first_stage": {"kind": "bm25", "top_k": 5, "bm25": BM25}, "max_queries": None})
    assert shlex.split(command_line(rerank))[1:] == command_arguments(rerank)
    assert _specs(rerank)[0].model.template == 'Doc "{doc}" it\'s'


@pytest.mark.parametrize("identity, named", [
    (Identity("beir", "scifact", "test", {}, "fusion", None, {"fusion": "rrf", "inputs": []}), "method fusion"),
    (Identity("beir", "scifact", "test", {}, "rerank", {"model": "m", "revision": "x", "template": "{doc}",
              "max_length": 8, "dtype": "float32"},
              {"top_k": 5, "first_stage": {"kind": "ranking_file", "sha256": "ab"}}), "first stage ranking_file"),
    (Identity("beir", "scifact", "test", {}, "bm25", None, {"top_k": 5, "bm25": {**BM25, "stemmer": None}}),
     "BM25 settings"),
])
def test_an_identity_no_command_can_give_is_refused_by_name(identity, named):
    with pytest.raises(SgptEvalError, match=named):
        command_arguments(identity)


def test_an_identity_missing_a_setting_of_its_method_is_refused_by_name():
    with pytest.raises(SgptEvalError, match="lacks the setting 'bm25'"):
        command_arguments(Identity("beir", "scifact", "test", {}, "bm25", None, {"top_k": 5}))
