import pytest
import torch

from sgpt_eval.models.pooling import pool

STATES = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3)
RIGHT = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])


def test_weightedmean_weights_positions_and_skips_padding():
    expected0 = (1 * STATES[0, 0] + 2 * STATES[0, 1] + 3 * STATES[0, 2]) / 6
    expected1 = (1 * STATES[1, 0] + 2 * STATES[1, 1]) / 3
    out = pool(STATES, RIGHT, "weightedmean")
    torch.testing.assert_close(out, torch.stack([expected0, expected1]))


def test_weightedmean_does_not_depend_on_padding_side():
    left_states = torch.zeros_like(STATES)
    left_states[1, 2:] = STATES[1, :2]
    left_states[0, 1:] = STATES[0, :3]
    left = torch.tensor([[0, 1, 1, 1], [0, 0, 1, 1]])
    torch.testing.assert_close(pool(left_states, left, "weightedmean"), pool(STATES, RIGHT, "weightedmean"))
    torch.testing.assert_close(pool(left_states, left, "lasttoken"), pool(STATES, RIGHT, "lasttoken"))
    torch.testing.assert_close(pool(left_states, left, "cls"), pool(STATES, RIGHT, "cls"))


def test_mean_lasttoken_cls():
    torch.testing.assert_close(pool(STATES, RIGHT, "mean")[1], STATES[1, :2].mean(0))
    torch.testing.assert_close(pool(STATES, RIGHT, "lasttoken"), torch.stack([STATES[0, 2], STATES[1, 1]]))
    torch.testing.assert_close(pool(STATES, RIGHT, "cls"), STATES[:, 0])


def test_unknown_pooling():
    with pytest.raises(ValueError, match="unknown pooling"):
        pool(STATES, RIGHT, "max")
