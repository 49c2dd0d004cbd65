"""The SGPT hub repositories through the real `snapshot_download`, against the stand-in hub:
which files are fetched, that pickle checkpoints load through the weights-only unpickler with the
served weights, and one line for each way the hub can fail."""

from __future__ import annotations

import hashlib
import io

import pytest
import torch
from safetensors.torch import load_file

from sgpt_eval.errors import SgptEvalError, Unavailable
from sgpt_eval.models import store
from sgpt_eval.models.bi_encoder import SGPTBiEncoder
from sgpt_eval.models.st_layout import load_weights
from ...encoders import make_bi_encoder, make_cross_encoder

from . import repos
from .conftest import BLOOM, CHUNK, GATED, GPT_J, LINEAR5, MSMARCO, NLI

TEXTS = ["how do cells make energy", "Mitochondria produce ATP by oxidative phosphorylation."]


def _fetched(hub) -> list[str]:
    """The weights downloaded from the storage origin, by file name (its URLs carry it as `name=`)."""
    return [r.path.rsplit("name=", 1)[-1] for r in hub.log("storage") if r.method == "GET"]


def _encoder(name: str, tmp_path, **options) -> SGPTBiEncoder:
    return make_bi_encoder(name, tmp_path / "cache", device="cpu", **options)


def test_pickle_only_main_loads_weights_only_and_matches_the_safetensors_pull_request(hub_here, tmp_path):
    main = _encoder("SGPT-125M-weightedmean-msmarco-specb-bitfit", tmp_path)
    assert _fetched(hub_here) == ["pytorch_model.bin"]
    assert main.settings.revision == hub_here.repos[MSMARCO.lower()].revisions["main"]
    assert (main.pooling, main.specb, main.max_length) == ("weightedmean", True, 300)
    hub_here.requests.clear()
    converted = _encoder("SGPT-125M-weightedmean-msmarco-specb-bitfit", tmp_path, revision="refs/pr/4")
    assert _fetched(hub_here) == ["model.safetensors"]  # safetensors preferred; the .bin beside it not fetched
    assert converted.settings.revision == hub_here.repos[MSMARCO.lower()].revisions["refs/pr/4"]
    # The same weights from either format: the pickle was read, not left to a random initialisation.
    assert torch.equal(torch.from_numpy(main.encode(TEXTS, "query", show_progress_bar=False)),
                       torch.from_numpy(converted.encode(TEXTS, "query", show_progress_bar=False)))


def test_nli_and_linearthenpool5_load_their_modules(hub_here, hub_repos, tmp_path):
    nli = _encoder("SGPT-125M-weightedmean-nli-bitfit", tmp_path)
    assert (nli.pooling, nli.specb, nli.max_length) == ("weightedmean", False, 75)
    linear = _encoder("SGPT-125M-mean-nli-linearthenpool5", tmp_path)
    assert (linear.pooling, linear.settings.dense_layers, len(linear.dense_before)) == ("mean", 5, 5)
    served = torch.load(io.BytesIO(hub_repos[(LINEAR5, "main")]["3_Dense/pytorch_model.bin"]),
                        weights_only=True)
    assert torch.equal(linear.dense_before[2][0].weight, served["linear.weight"])
    # nli's, then linearthenpool5's model and its five Dense layers' (each a pytorch_model.bin)
    assert _fetched(hub_here) == ["pytorch_model.bin"] * (1 + 1 + 5)
    assert linear.encode(TEXTS, "doc", show_progress_bar=False).shape == (2, repos.HIDDEN)


def test_bloom_takes_the_safetensors_shards_only(hub_here, hub_repos, tmp_path):
    bloom = _encoder("SGPT-BLOOM-7B1-msmarco", tmp_path)
    assert sorted(_fetched(hub_here)) == [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    served = hub_repos[(BLOOM, "main")]
    first = tmp_path / "shard.safetensors"
    first.write_bytes(served["model-00001-of-00003.safetensors"])
    name, tensor = next(iter(load_file(first).items()))
    assert torch.equal(bloom.model.state_dict()[name], tensor)
    assert bloom.encode(TEXTS, "query", show_progress_bar=False).shape == (2, repos.HIDDEN)


def _folder(files: dict[str, bytes], folder, leave_out: str):
    for path, content in files.items():
        if not path.startswith(leave_out):
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(content)
    return folder


def test_a_sharded_pickle_checkpoint_loads_weights_only(hub_repos, tmp_path):
    files = hub_repos[(BLOOM, "main")]
    from_bin = make_bi_encoder(_folder(files, tmp_path / "bin", "model"), tmp_path, device="cpu")
    safe = make_bi_encoder(_folder(files, tmp_path / "safe", "pytorch_model"), tmp_path, device="cpu")
    vectors = [torch.from_numpy(e.encode(TEXTS, "doc", show_progress_bar=False)) for e in (from_bin, safe)]
    assert torch.equal(*vectors)
    assert not any((tmp_path / "bin").glob("*.safetensors")) and any((tmp_path / "safe").glob("*.safetensors"))


def test_gpt_j_float16_branch_re_ranks_from_its_pickle(hub_here, hub_repos, tmp_path):
    scorer = make_cross_encoder("SGPT-CE-GPT-J-6B", tmp_path / "cache", device="cpu", dtype="float32")
    assert _fetched(hub_here) == ["pytorch_model.bin"]
    assert scorer.settings.revision == hub_here.repos[GPT_J.lower()].revisions["float16"]
    served = torch.load(io.BytesIO(hub_repos[(GPT_J, "float16")]["pytorch_model.bin"]), weights_only=True)
    name = "transformer.h.0.mlp.fc_in.weight"
    assert served[name].dtype == torch.float16
    assert torch.equal(scorer.model.state_dict()[name], served[name].float())
    assert scorer.predict([TEXTS], show_progress_bar=False)[0] < 0


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(hub_here, hub_repos, tmp_path):
    marker = tmp_path / "payload-ran"
    hub_here.add("someone/payload", repos.malicious_checkpoint(hub_repos[(NLI, "main")], marker))
    with pytest.raises(SgptEvalError) as error:
        _encoder("someone/payload", tmp_path)
    assert "would run code, refused before any of it ran" in str(error.value) and "\n" not in str(error.value)
    assert not marker.exists()
    dense = tmp_path / "dense"  # a Dense module's pickle too
    dense.mkdir()
    (dense / "pytorch_model.bin").write_bytes(repos.malicious_checkpoint({}, marker)["pytorch_model.bin"])
    with pytest.raises(SgptEvalError, match="would run code"):
        load_weights(dense)
    assert not marker.exists()


@pytest.mark.parametrize("name, revision, expected", [
    (GATED, None, "a gated repository on the Hugging Face hub; accept its terms"),
    ("nobody/no-such-model", None, "no such repository on the Hugging Face hub"),
    (MSMARCO, "v9", "the hub has no revision 'v9'; pass an existing branch, tag or commit with --revision"),
])
def test_hub_refusals_are_one_line_each(hub_here, tmp_path, name, revision, expected):
    with pytest.raises(SgptEvalError) as error:
        store.resolve(name, tmp_path, revision=revision)
    message = str(error.value)
    assert expected in message and "\n" not in message
    if name == GATED:
        assert "HF_TOKEN" in message and "hf auth login" in message
    assert isinstance(error.value, Unavailable) == (revision is None)  # a wrong revision is a mistake, not an outage


def test_gated_repository_downloads_with_a_token(hub_here, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", hub_here.token)
    assert (store.resolve(GATED, tmp_path).path / "config.json").is_file()


@pytest.mark.parametrize("offline", [False, True])
def test_unreachable_hub_names_the_cache_folder(hub_here, monkeypatch, tmp_path, offline):
    from huggingface_hub import constants

    hub_here.close()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    with pytest.raises(Unavailable) as error:
        store.resolve(NLI, tmp_path)
    message = str(error.value)
    assert ("HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub is unreachable") in message
    assert constants.HF_HUB_CACHE in message and "--model" in message and "\n" not in message


def test_a_cut_download_resumes_with_a_range_request(hub_here, tmp_path):
    hub_here.cut(NLI, "main", "pytorch_model.bin", [2 * CHUNK])
    encoder = _encoder("SGPT-125M-weightedmean-nli-bitfit", tmp_path)
    gets = [r for r in hub_here.log("storage") if r.method == "GET"]
    assert [r.range for r in gets] == [None, f"bytes={2 * CHUNK}-"]
    assert encoder.encode(TEXTS, "doc", show_progress_bar=False).shape == (2, repos.HIDDEN)


def test_a_download_cut_for_good_is_one_line_and_the_next_run_completes(hub_here, hub_repos, tmp_path):
    weights = hashlib.sha256(hub_repos[(LINEAR5, "main")]["pytorch_model.bin"]).hexdigest()
    # Cut after two chunks, then every resumption (Range) at once: the client gives up after its retries.
    hub_here.cut(LINEAR5, "main", "pytorch_model.bin", [2 * CHUNK] + [0] * 5)
    with pytest.raises(Unavailable) as error:
        store.resolve(LINEAR5, tmp_path)
    message = str(error.value)
    assert "a download was cut off" in message and "run the same command again" in message and "\n" not in message
    ranges = [r.range for r in hub_here.log("storage") if r.path.startswith(f"/{weights}")]
    assert ranges[:2] == [None, f"bytes={2 * CHUNK}-"] and len(ranges) == 6
    hub_here.requests.clear()
    source = store.resolve(LINEAR5, tmp_path)
    # The five Dense layers' files finished in the first run and are not fetched again; the cut file is
    # fetched anew (huggingface_hub keeps no partial file between runs).
    assert [(r.path.split("?")[0], r.range) for r in hub_here.log("storage")] == [(f"/{weights}", None)]
    assert (source.path / "pytorch_model.bin").read_bytes() == hub_repos[(LINEAR5, "main")]["pytorch_model.bin"]
