"""bench/machine.py's arithmetic: what a trained character costs is 6 operations per weight it meets."""

from __future__ import annotations

import math

import pytest

from bench.machine import step_shape, train_flops_per_char
from charlstm.config import preset_config
from charlstm.weights import expected_shapes

VOCAB = 57


def weights_met_per_char(config) -> float:
    """Weights a character is multiplied by: every layer's input and recurrent kernels, and the output kernel
    (once per window in the seed's window mode, which predicts one character per window)."""
    shapes = expected_shapes(config, VOCAB)
    recurrent = sum(math.prod(s) for name, s in shapes.items() if name.startswith("rnn") and "kernel" in name)
    output = math.prod(shapes["logits/kernel"]) * (1 if config.mode == "sequence" else 1 / config.seq_len)
    return recurrent + output


@pytest.mark.parametrize("preset", ["quick", "quality", "classic"])
def test_a_trained_character_costs_six_operations_per_weight_it_meets(preset):
    config = preset_config(preset)
    assert train_flops_per_char(config, VOCAB) == pytest.approx(6 * weights_met_per_char(config))


def test_the_step_shape_is_the_recurrent_product():
    config = preset_config("quick")
    assert step_shape(config) == (config.batch_size, config.units, 4 * config.units)
    assert step_shape(config.replace(cell="gru")) == (config.batch_size, config.units, 3 * config.units)
