"""How tables and comparisons name a system: method and model, and only the settings that tell
configurations of one system apart (a query subset and another split always)."""

from __future__ import annotations

import dataclasses

from sgpt_eval.reports.systems import base_label, labels

from ..synthetic_reports import identity

SGPT = "Muennighoff/SGPT-125M-weightedmean-msmarco-specb-bitfit"


def test_base_labels_name_the_method_and_model():
    rerank = identity("scifact", "rerank", SGPT)
    over_a_run = dataclasses.replace(rerank, settings={**rerank.settings, "first_stage": {"kind": "run", "sha256": "ab"}})
    fusion = dataclasses.replace(identity("scifact", "bm25", "bm25s"), method="fusion", settings={
        "fusion": "rrf", "inputs": [{"report": "x", "system": "bm25:bm25s"}, {"report": "y", "system": "dense:m"},
                                    {"sha256": "0123456789abcdef"}]})
    weighted = dataclasses.replace(fusion, settings={**fusion.settings, "fusion": "weighted"})

    assert base_label(identity("scifact", "bm25", "bm25s")) == "BM25"
    assert base_label(identity("scifact", "dense", "all-MiniLM-L6-v2")) == "all-MiniLM-L6-v2 (dense)"
    assert base_label(rerank) == "BM25+SGPT-125M-weightedmean-msmarco-specb-bitfit (rerank)"  # a preset by its name
    assert base_label(over_a_run) == "SGPT-125M-weightedmean-msmarco-specb-bitfit (rerank)"
    assert base_label(fusion) == "RRF(BM25, m (dense), ranking 01234567)"
    assert base_label(weighted).startswith("Weighted(BM25, ")


def test_one_configuration_per_system_is_its_base_label_alone():
    systems = [identity("scifact", "bm25", "bm25s"), identity("scifact", "dense", "m", max_length=128),
               identity("scifact", "dense", "other", max_length=256)]
    assert labels(systems) == ["BM25", "m (dense)", "other (dense)"]


def test_configurations_of_one_system_are_told_apart_by_what_differs():
    systems = [identity("scifact", "dense", "m", max_length=128, pooling="mean"),
               identity("scifact", "dense", "m", max_length=256, pooling="mean"),
               identity("scifact", "dense", "m", pooling="mean")]
    assert labels(systems) == ["m (dense) [max_length=128]", "m (dense) [max_length=256]", "m (dense) [max_length=-]"]


def test_a_query_subset_and_another_split_are_always_named():
    subset, train = identity("scifact", "dense", "m", max_queries=10), identity("scifact", "dense", "n", split="train")
    assert labels([subset, train]) == ["m (dense) [max_queries=10]", "n (dense) [split=train]"]
    assert labels([identity("msmarco", "dense", "m", split="dev")]) == ["m (dense)"]  # MS MARCO's evaluation split
