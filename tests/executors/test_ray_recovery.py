"""Replicas that die in the middle of a run are started again and their tasks run again: a killed
replica while encoding, a lost node while re-ranking. The run finishes by itself with the vectors
and scores of an undisturbed one.

A two-node cluster started here (`ray.cluster_utils.Cluster`): a head with no CPU, so that every
replica runs on the worker nodes, and one worker of 2 CPUs; a second worker joins before the
first is removed.
"""

from __future__ import annotations

import numpy as np
import pytest
import ray
import torch
from ray.cluster_utils import Cluster

from sgpt_eval.executors import ShardJob
from sgpt_eval.executors.local import LocalExecutor
from sgpt_eval.executors.ray_pool import RayExecutor
from sgpt_eval.models.cross_encoder import SGPTCrossEncoder

from ..encoders import resolved
from ..tolerances import RTOL

TEXTS = [f"document number {i} about topic {i % 3}" + " and more" * i for i in range(8)]
PAIRS = [(query, doc) for query in ("how do cells make energy", "ranking documents", "light") for doc in TEXTS[:6]]


@pytest.fixture(scope="module")
def cluster():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each CPU replica runs
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    first = cluster.add_node(num_cpus=2)
    ray.init(address=cluster.address)
    yield cluster, first
    ray.shutdown()
    cluster.shutdown()
    torch.set_num_threads(threads)


def test_a_replica_killed_while_encoding_is_replaced_and_its_shards_encoded(cluster, tiny_gpt_neo, tmp_path):
    model = resolved(tiny_gpt_neo, "bi", tmp_path, device="cpu")
    remote = RayExecutor(None).bi_encoder(model, shards=2)
    jobs = [ShardJob(number, "doc", number, number + 1) for number in range(len(TEXTS))]
    stream = remote.encode_shards(jobs, TEXTS, "doc")
    done = dict([next(stream)])
    ray.kill(remote.replicas.actors[0], no_restart=False)  # as if it ran out of memory
    done.update(stream)
    assert sorted(job.number for job in done) == list(range(len(TEXTS)))
    local = dict(LocalExecutor().bi_encoder(model, shards=len(jobs)).encode_shards(jobs, TEXTS, "doc"))
    assert all(np.array_equal(done[job], local[job]) for job in jobs)  # the same shards: equal to the bit


def test_a_node_lost_while_re_ranking_costs_nothing_but_time(cluster, tiny_gpt_neo, tmp_path):
    head, first = cluster
    model = resolved(tiny_gpt_neo, "cross", tmp_path, device="cpu")
    remote = RayExecutor(None).cross_encoder(model, pairs=2)  # both replicas on the first node
    head.add_node(num_cpus=2)
    head.remove_node(first)  # its replicas, their models loaded, die with it and start again on the second
    scores = {}
    for rows, values in remote.scores(PAIRS, batch_size=4):
        scores.update(zip(rows, values))
    assert sorted(scores) == list(range(len(PAIRS)))
    expected = SGPTCrossEncoder(model).predict(PAIRS, batch_size=4, show_progress_bar=False)
    np.testing.assert_allclose([scores[i] for i in range(len(PAIRS))], expected, rtol=RTOL, atol=0)
