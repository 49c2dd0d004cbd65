"""The local executor: models loaded in this process, one at a time, each kept for the next run
of the same model, so that a batch over many datasets loads it once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ..models.bi_encoder import SGPTBiEncoder
from ..models.cross_encoder import SGPTCrossEncoder
from ..models.resolution import ResolvedModel
from . import ShardJob, load


class LocalBiEncoder:
    """A bi-encoder in this process as a `ShardEncoder`: shards encoded one after another."""

    def __init__(self, encoder: SGPTBiEncoder) -> None:
        self.encoder, self.settings = encoder, encoder.settings
        self.device, self.batch_size, self.load_seconds = encoder.device, encoder.batch_size, encoder.load_seconds

    def encode_shards(self, jobs: Sequence[ShardJob], texts: Sequence[str], kind: str
                      ) -> Iterator[tuple[ShardJob, np.ndarray]]:
        for job in jobs:
            yield job, self.encoder.encode(texts[job.start:job.stop], kind)


class LocalExecutor:
    def __init__(self) -> None:
        self._loaded: dict[ResolvedModel, SGPTBiEncoder | SGPTCrossEncoder] = {}

    def _load(self, model: ResolvedModel) -> SGPTBiEncoder | SGPTCrossEncoder:
        """The model's encoder, loaded on the first call only; the last model loaded leaves memory."""
        key = model.weights_key()
        if key not in self._loaded:
            self._loaded.clear()
            self._loaded[key] = load(key)
        return self._loaded[key]

    def bi_encoder(self, model: ResolvedModel, shards: int) -> LocalBiEncoder:
        return LocalBiEncoder(self._load(model).with_instruction(model.settings.instruction))

    def cross_encoder(self, model: ResolvedModel, pairs: int) -> SGPTCrossEncoder:
        return self._load(model)
