"""Every report in results/ keeps its identity: the run that made it, resolved today on the same
data and models (no weights loaded, nothing run), has the report's digest, so that `run` and
`paper` skip it instead of measuring it again. A report added to results/ must be added here."""

from __future__ import annotations

from pathlib import Path

import pytest

from sgpt_eval.evaluation.pipeline import Models, prepare
from sgpt_eval.evaluation.specs import RunOptions, RunSpec
from sgpt_eval.models.options import ModelOptions
from sgpt_eval.models.presets import find_preset
from sgpt_eval.models.store import offline_path
from sgpt_eval.reports.schema import Identity, read_report

from ..conftest import _cache_dir

RESULTS = Path(__file__).resolve().parents[2] / "results"
SHARED_USEB = RESULTS.parents[1] / "shared" / "useb"
# Each committed report, by its path under results/, and the run that made it.
RUNS = {
    "beir/scifact/bm25/bm25s.a2de6f4fc342.json": RunSpec("scifact", "bm25", None),
    "beir/scifact/dense/all-MiniLM-L6-v2.e37cdc206786.json":
        RunSpec("scifact", "dense", ModelOptions("all-MiniLM-L6-v2")),
    "beir/scifact/dense/SmolLM2-135M.1b65da155442.json": RunSpec("scifact", "dense", ModelOptions("SmolLM2-135M")),
    "beir/scifact/rerank/SmolLM2-135M-first10q.f7840ea1445c.json":
        RunSpec("scifact", "rerank", ModelOptions("SmolLM2-135M"), RunOptions(top_k=10, max_queries=10)),
    "beir/scifact/rerank/SmolLM2-135M.a08c4e877d25.json":
        RunSpec("scifact", "rerank", ModelOptions("SmolLM2-135M"), RunOptions(top_k=100)),
    **{f"beir/{dataset}/bm25/bm25s.{digest}.json": RunSpec(dataset, "bm25", None)
       for dataset, digest in (("nfcorpus", "fe70637d362f"), ("arguana", "187b976eea7a"))},
    **{f"beir/{dataset}/dense/all-MiniLM-L6-v2.{digest}.json": RunSpec(dataset, "dense", ModelOptions("all-MiniLM-L6-v2"))
       for dataset, digest in (("nfcorpus", "5745df45780e"), ("arguana", "9302ea0f3816"))},
}
USEB_RUNS = {"useb/twitterpara/dense/all-MiniLM-L6-v2.36a214e1a922.json": ModelOptions("all-MiniLM-L6-v2")}


def skip_unless_prepared(options: ModelOptions | None) -> None:
    """An offline preset is there only once `make models` has prepared it (`make test` does)."""
    preset = find_preset(options.model) if options else None
    if preset and preset.offline and offline_path(preset, _cache_dir()) is None:
        pytest.skip(f"{preset.name} is not prepared here; run `make models`")


def assert_same_run(identity: Identity, stored: Identity, name: str) -> None:
    """The same identity, the model's revision aside where the files differ: SmolLM2-135M is converted
    from its GGUF file on each machine (`make models`) and the folder's fingerprint follows the bytes
    written, and one report predates content fingerprints ("local-..."). Every other field, the data
    files' hashes included, must be equal; with the same revision, so must the digest."""
    assert identity.comparable() == stored.comparable()
    assert identity.data_files_sha256 == stored.data_files_sha256
    if identity.model is None or identity.model["revision"] == stored.model["revision"]:
        assert identity == stored and identity.digest() == name.rsplit(".", 2)[1]


def test_every_report_in_results_is_covered():
    found = {path.relative_to(RESULTS).as_posix() for benchmark in ("beir", "useb")
             for path in (RESULTS / benchmark).rglob("*.json")}
    assert found == {*RUNS, *USEB_RUNS}


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_beir_report_s_run_resolves_to_its_identity(name, scifact_dir, tmp_path):
    skip_unless_prepared(RUNS[name].model)
    if not (scifact_dir / RUNS[name].dataset / "corpus.jsonl").is_file():
        pytest.skip(f"BEIR {RUNS[name].dataset} not found at {scifact_dir}")
    stored = read_report(RESULTS / name).identity
    assert_same_run(prepare(RUNS[name], scifact_dir, Models(_cache_dir())).identity, stored, name)


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(USEB_RUNS))
def test_a_useb_report_s_run_resolves_to_its_identity(name, tmp_path):
    from sgpt_eval.data import useb as useb_data
    from sgpt_eval.evaluation.useb import useb_identity

    skip_unless_prepared(USEB_RUNS[name])
    stored = read_report(RESULTS / name).identity
    if not (SHARED_USEB / stored.dataset).is_dir():
        pytest.skip(f"USEB {stored.dataset} not found at {SHARED_USEB}")
    data = useb_data.load(stored.dataset, SHARED_USEB, stored.split)
    model = Models(_cache_dir()).resolve("bi", USEB_RUNS[name]).for_dataset(stored.dataset)
    identity = useb_identity(data, data.file_hashes(), model)
    assert identity == stored and identity.digest() == name.rsplit(".", 2)[1]
